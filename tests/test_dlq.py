"""`petition-hub dlq list|show|redrive` against real dead letters on the embedded broker."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubtest import (
    TEST_PII_KEY,
    Record,
    WorkerProcess,
    app_command,
    hub_cli,
    pii_cipher,
    produce,
    read_topic,
    run_hub,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.devtools.corpus import generate
from petition_hub.ops.dlq import REDRIVE_V1, UNDECRYPTABLE
from petition_hub.runtime.deadletter import REDRIVE_HEADER, TRUNCATED_BYTES, seal, unseal
from petition_hub.runtime.records import SourceRecord
from petition_hub.service.crypto import PiiCipher

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_list_show_and_redrive(hub_topics: EmbeddedBroker, tmp_path: Path) -> None:
    items = generate("hotline", 140, seed=9)
    valid = list({i.key: i for i in items if i.expected == "petition"}.values())
    raising = [i for i in valid if (i.key or b"").endswith(b"3")]
    broken = [i for i in items if i.expected_reason == "bad_json"]
    assert raising and broken
    data = tmp_path / "w"
    # a worker whose connector has a bug (raises for keys ending in 3): its dead letters are
    # what a fixed connector must take in on redrive
    worker = WorkerProcess(
        hub_topics.url, "faulty", data, command=app_command("faulty_intake_app.py")
    ).start()
    try:
        produce(
            hub_topics.bootstrap,
            "hotline12345.workorders",
            [(i.key, i.value, i.headers) for i in valid + broken],
        )
        n_dead = len(raising) + len(broken)
        read_topic(hub_topics.bootstrap, "hub.deadletter", min_count=n_dead, timeout=60)

        listing = hub_cli(hub_topics.url, data, "dlq", "list")
        lines = listing.strip().splitlines()
        assert len(lines) == n_dead
        assert sum(" internal " in line for line in lines) == len(raising)
        assert sum(" bad_json " in line for line in lines) == len(broken)

        # show: metadata and the original, personal data masked
        internal_id = next(line.split()[0] for line in lines if " internal " in line)
        shown = hub_cli(hub_topics.url, data, "dlq", "show", internal_id)
        assert "reason        internal (RuntimeError)" in shown
        assert '"LDHM": "***"' in shown
        phones = {json.loads(i.value or b"{}")["LDHM"] for i in raising if i.headers == ()}
        assert phones and not any(p in shown for p in phones)

        # redrive through the (fixed) connector: the petitions appear, the redrives are recorded
        out = hub_cli(
            hub_topics.url, data, "dlq", "redrive", "--reason", "internal", "--via", "connector"
        )
        assert out.count("to hub.petitions") == len(raising)
        petitions = read_topic(
            hub_topics.bootstrap, "hub.petitions", min_count=len(valid), timeout=30
        )
        assert len(petitions) == len(valid)
        listing = hub_cli(hub_topics.url, data, "dlq", "list", "--reason", "internal")
        assert listing.count("[redriven 1x]") == len(raising)
        again = hub_cli(hub_topics.url, data, "dlq", "redrive", "--reason", "internal")
        assert "nothing to redrive" in again  # already redriven ones are left alone

        # redrive to the source: still broken, so a new dead letter that names the first
        bad_id = next(line.split()[0] for line in lines if " bad_json " in line)
        out = hub_cli(hub_topics.url, data, "dlq", "redrive", bad_id)
        assert "resent to hotline12345.workorders" in out
        cipher = pii_cipher()

        def second_letter() -> bool:
            records = read_topic(hub_topics.bootstrap, "hub.deadletter", timeout=5)
            letters = [
                unseal(r.key, r.value or b"", cipher)
                for r in records
                if schemas.split_header(r.value or b"")[0] != schemas.schema_id(REDRIVE_V1)
            ]
            return any(d.redrive_of == bad_id for d in letters)

        wait_until(second_letter, 30, what="the redriven message to be dead-lettered again")
    finally:
        worker.stop()


HOTLINE = "hotline12345.workorders"


def _dlq(broker: EmbeddedBroker, *args: str) -> subprocess.CompletedProcess[str]:
    """``petition-hub dlq ARGS`` with the tests' key: its exit status, stdout and stderr."""
    env = {**os.environ, "HUB_BROKER": broker.url, "HUB_PII_KEY": TEST_PII_KEY}
    return run_hub("dlq", *args, env=env)


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit non-zero, one line on stderr (no traceback) naming ``words``; that line."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def _letter(
    src: SourceRecord, cipher: PiiCipher, *, truncate: bool = False
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    reason = "too_large" if truncate else "bad_json"
    at = datetime(2026, 3, 2, 9, src.offset % 60, tzinfo=UTC)
    return seal(src, "hotline", reason, "ValueError", "refused", cipher, at, truncate=truncate)


def _redriven(records: list[Record]) -> list[Record]:
    return [r for r in records if REDRIVE_HEADER in dict(r.headers)]


def test_unreadable_records_do_not_block_the_others(hub_topics: EmbeddedBroker) -> None:
    good = [
        SourceRecord(
            HOTLINE, 0, 100 + n, f"G{n}".encode(), f"{{broken {n}".encode(), (("x", b"1"),)
        )
        for n in range(3)
    ]
    foreign = SourceRecord(HOTLINE, 0, 200, b"F", b"{sealed under another key", ())
    other_key = PiiCipher(Fernet.generate_key().decode())  # say, a key rotated out since
    letters = [_letter(good[0], pii_cipher()), _letter(foreign, other_key)]
    letters += [_letter(src, pii_cipher()) for src in good[1:]]
    letters.append((None, b"these bytes are not a dead letter", []))
    produce(hub_topics.bootstrap, "hub.deadletter", letters)
    (bad_bytes,) = [
        r for r in read_topic(hub_topics.bootstrap, "hub.deadletter", 5) if r.key is None
    ]
    bad_id = f"hub.deadletter:{bad_bytes.partition}:{bad_bytes.offset}"

    # list: every record, the unreadable ones saying why
    listing = _dlq(hub_topics, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.strip().splitlines()
    assert len(lines) == 5, lines
    by_id = {line.split()[0]: line for line in lines}
    assert set(by_id) == {s.ref for s in good} | {foreign.ref, bad_id}
    assert UNDECRYPTABLE in by_id[foreign.ref] and " bad_json " in by_id[foreign.ref]
    assert "not a dead letter" in by_id[bad_id]
    assert all(" bad_json " in by_id[s.ref] and "refused" in by_id[s.ref] for s in good)

    # show: a readable one as usual; an unreadable one in one line, exit 1
    shown = _dlq(hub_topics, "show", good[1].ref)
    assert shown.returncode == 0 and "reason        bad_json (ValueError)" in shown.stdout
    _one_line_error(_dlq(hub_topics, "show", foreign.ref), foreign.ref, UNDECRYPTABLE)
    _one_line_error(_dlq(hub_topics, "show", bad_id), bad_id, "not a dead letter")

    # redrive: the readable ones go, the unreadable one is reported and left; exit 1
    out = _dlq(hub_topics, "redrive", "--reason", "bad_json")
    _one_line_error(out, "1 of 4 dead letters not redriven")
    assert out.stdout.count(f"resent to {HOTLINE}") == 3, out.stdout
    assert f"{foreign.ref}: not redriven: {UNDECRYPTABLE}" in out.stdout
    resent = _redriven(read_topic(hub_topics.bootstrap, HOTLINE, 3))
    assert sorted((r.key, r.value) for r in resent) == [(s.key, s.value) for s in good]
    again = _dlq(hub_topics, "redrive", bad_id)
    _one_line_error(again, "1 of 1 dead letters not redriven")
    assert f"{bad_id}: not redriven: not a dead letter" in again.stdout
    listing = _dlq(hub_topics, "list").stdout
    assert listing.count("[redriven 1x]") == 3 and UNDECRYPTABLE in listing


def test_redrive_of_a_truncated_letter_sends_the_whole_verified_original(
    hub_topics: EmbeddedBroker,
) -> None:
    # two originals over the size limit on the source topic; a third never was there
    big = b'{"GDBH": "' + b"x" * (1200 * 1024) + b'"}'
    other = big.replace(b"x", b"y")
    produce(
        hub_topics.bootstrap, HOTLINE, [(b"B1", big, [("charset", b"utf-8")]), (b"B2", other, [])]
    )
    on_topic = {r.key: r for r in read_topic(hub_topics.bootstrap, HOTLINE, 2)}
    whole = SourceRecord(
        HOTLINE,
        on_topic[b"B1"].partition,
        on_topic[b"B1"].offset,
        b"B1",
        big,
        (("charset", b"utf-8"),),
    )
    # a letter whose coordinates hold another record (its SHA-256 differs), and one whose
    # original is not on the topic (any more)
    swapped = SourceRecord(HOTLINE, on_topic[b"B2"].partition, on_topic[b"B2"].offset, b"B2", big)
    gone = SourceRecord(HOTLINE, whole.partition, 10_000, b"B3", big)
    letters = [_letter(src, pii_cipher(), truncate=True) for src in (whole, swapped, gone)]
    assert all(len(value) < 100 * 1024 for _, value, _ in letters)  # truncated indeed
    produce(hub_topics.bootstrap, "hub.deadletter", letters)

    listing = _dlq(hub_topics, "list").stdout
    assert listing.count("[truncated]") == 3 and f"{len(big)}B" in listing, listing
    shown = _dlq(hub_topics, "show", whole.ref)
    assert shown.returncode == 0, shown.stderr
    assert (
        f"size          {len(big)} bytes, of which the letter keeps the first {TRUNCATED_BYTES}"
        in shown.stdout
    )
    assert (
        f"truncated     yes: the whole original (SHA-256 {hashlib.sha256(big).hexdigest()}) is "
        f"record {whole.offset} of {HOTLINE} partition {whole.partition}"
    ) in shown.stdout

    out = _dlq(hub_topics, "redrive", whole.ref, swapped.ref, gone.ref)
    _one_line_error(out, "2 of 3 dead letters not redriven")
    results = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    assert results[whole.ref].startswith(f"resent to {HOTLINE} (whole original: {len(big)} bytes")
    assert "SHA-256 verified" in results[whole.ref]
    assert results[swapped.ref].startswith("not redriven: truncated, and the record at")
    assert "is not its original" in results[swapped.ref]
    assert results[gone.ref].startswith("not redriven: truncated, and its whole original")
    assert f"is no longer on {HOTLINE} partition {gone.partition} offset 10000" in results[gone.ref]

    # the whole original went back to its topic, byte for byte, key and headers with it
    (resent,) = _redriven(read_topic(hub_topics.bootstrap, HOTLINE, 3))
    assert (resent.key, resent.value) == (b"B1", big)
    assert dict(resent.headers) == {"charset": b"utf-8", REDRIVE_HEADER: whole.ref.encode()}
    # only the redriven one is recorded as such
    lines = _dlq(hub_topics, "list").stdout.strip().splitlines()
    assert [line.split()[0] for line in lines if "[redriven 1x]" in line] == [whole.ref]
