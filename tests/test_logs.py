"""The hub's log configuration (:mod:`petition_hub.service.logs`): what it costs and keeps."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from petition_hub.service import logs


@pytest.fixture
def configured() -> Iterator[None]:
    """``logs.configure("INFO")`` for one test; the process's logging as it was afterwards."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    logs.configure("INFO")
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


def test_a_call_below_the_level_runs_no_processor(
    configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A debug line at INFO is dropped before it is stamped and scrubbed (issue 16: formatted
    when off, it was 6 % of the routing stage)."""
    scrubbed: list[str] = []

    def counting(text: str) -> str:
        scrubbed.append(text)
        return text

    monkeypatch.setattr(logs, "scrub_text", counting)
    log = structlog.get_logger("test_logs")
    log.debug("below the level", decision="debug text")
    assert scrubbed == [], f"a debug call at INFO was processed: {scrubbed}"
    log.info("at the level", decision="info text")
    assert "info text" in scrubbed, f"an info call at INFO was not scrubbed: {scrubbed}"
