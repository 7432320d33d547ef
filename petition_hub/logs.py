"""Logging: structlog over the standard library, so faust's and the hub's lines look alike.

Personal information never reaches a log line: events carry petition ids, channel references
and counts, never contact details; and as a second line of defence, :func:`scrub_pii` masks
anything that looks like a phone number, a resident ID number or a WeChat openid in every
event, whoever logged it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_PII_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # resident ID numbers (18 characters, last may be X) before phones: they contain digit runs
    (re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}\d{7}[0-9Xx](?![0-9A-Za-z])"), "[id]"),
    (re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"), "[phone]"),
    (re.compile(r"\bo[0-9A-Za-z_-]{2}[0-9A-Za-z_-]{20,}\b"), "[openid]"),
)


def scrub_text(text: str) -> str:
    """``text`` with phone numbers, ID numbers and openids replaced by placeholders."""
    for pattern, placeholder in _PII_PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def scrub_pii(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor applying :func:`scrub_text` to every string value."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = scrub_text(value)
    return event_dict


class _ScrubbingFilter(logging.Filter):
    """Applies :func:`scrub_text` to records not logged through structlog (faust, aiokafka)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, dict):
            record.msg = scrub_text(record.getMessage())
            record.args = ()
        return True


def configure(level: str = "INFO", json: bool = False) -> None:
    """Configure structlog and the standard library's root logger once per process."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub_pii,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    handler.addFilter(_ScrubbingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every join and fetch; its warnings still show
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("kafka").setLevel(max(logging.WARNING, root.level))
