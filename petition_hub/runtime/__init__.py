"""Batch stages: consume, process, produce, commit, with partitioned changelog-backed state.

Why not a faust agent: faust hands every message from its consumer thread to the agent through
a task of its own, which caps a worker at a few thousand events a second (measured here: an agent
awaiting one send per event ~5,000/s, ``take_events`` with unawaited sends ~8,600/s, against
~40,000/s for a bare aiokafka consume-transform-produce loop). The hub's high-volume data path
(intake now, routing next) therefore runs as a :class:`.stage.Stage`: a faust service (started and
stopped with the worker, beside faust's agents, tables, timers and web server) that drives its
own aiokafka consumer in batches.

Guarantees, per batch:

1. Records are processed in offset order per partition by one coroutine (order per key).
2. Outputs are queued without awaiting each; the stage waits until every one is acknowledged,
   then writes the state changes that record them and waits for those, and only then commits the
   batch's offsets. A crash at any point leaves the batch uncommitted: it is read again, and the
   state (restored from its changelog) says what was already emitted; since state is written
   only after its outputs are on the broker, it never claims an output that is not. A delivery
   that fails for good stops the worker before anything more is committed (crash-only).
3. State is kept per source partition and written to a compacted changelog topic in the same
   partition number, so whichever worker holds a partition restores exactly its state, reading
   the changelog to its true end offset (corrected on Tansu, see :mod:`..broker.offsets`).
4. A rebalance waits for the batch in hand: revocation takes the same lock as processing, and
   no record is processed, or skipped, before its partition's state is restored.

Exactly-once outputs (``outputs=`` given; the lifecycle's clock events must fire once): without
broker transactions (Tansu has none) a crash after the outputs were acknowledged but before the
state recording them was would emit them again. So each output carries a stable ``event_id``
(header ``ce_id``, its CloudEvents id) and is written to partition ``p mod n`` of its topic for
source partition ``p``; the state of ``p`` records, with each flush, where the outputs of ``p``
ended in those partitions (the *marks*, written after the other state changes). Restoring ``p``
reads every output partition from its mark to its end: those records were written after the last
state flush, and a processor that regenerates one of them (same ``event_id``) has it suppressed.
Together with processors that skip input records their state already holds (a partial state
flush), a crash repeats no output and loses none.

The parts: :mod:`.records` (what a stage reads and writes), :mod:`.state` (the state of a
partition, and namespaces over its keys), :mod:`.processor` (the work and its hooks),
:mod:`.stage` (the service, its loop and its commit order), :mod:`.lease` (fencing),
:mod:`.recovery` (restoring state), :mod:`.marks` (exactly-once outputs), :mod:`.delivery`
(acknowledgements and dead letters), :mod:`.clients` and :mod:`.admin` (Kafka clients and the
topics a stage makes).
"""
