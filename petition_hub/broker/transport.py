"""The faust driver for Tansu: the stock aiokafka driver with Tansu's end offsets corrected.

Selected by ``HUB_BROKER=tansu://host:port`` (entry point ``faust.transports: tansu``).
``kafka://`` uses faust's own driver untouched, so nothing here runs against Apache Kafka.

Faust reads a table's changelog up to the end offsets this returns on recovery; with Tansu's own
answer it stops early and silently loses table state (see :mod:`.offsets`). The other deviation,
the slow group join, is handled by configuration (a short session timeout, see
:func:`petition_hub.service.app.faust_settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as stock
from faust.types import TP

from petition_hub.broker.offsets import fetched_end_offsets


class ConsumerThread(stock.AIOKafkaConsumerThread):
    """Consumer thread whose high-water offsets come from a Fetch, not ListOffsets."""

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        reported = await super()._highwaters(partitions)
        if self.consumer.in_transaction:  # last stable offsets, not from ListOffsets
            return reported
        bootstrap = ",".join(f"{u.host}:{u.port or 9092}" for u in self.transport.url)
        # the correcting consumer logs in as faust's own (broker_credentials: SASL, TLS)
        conf = self.app.conf
        auth = stock.credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context)
        return await fetched_end_offsets(bootstrap, dict(reported), options=auth)


class Consumer(stock.Consumer):
    """faust consumer using :class:`ConsumerThread`."""

    def _new_consumer_thread(self) -> stock.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(stock.Transport):
    """faust transport for ``tansu://`` URLs."""

    Consumer: ClassVar[Any] = Consumer
    driver_version = f"tansu-aware {stock.Transport.driver_version}"
