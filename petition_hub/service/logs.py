"""Logging: structlog over the standard library, so faust's and the hub's lines look alike.

Personal information never reaches a log line: events carry petition ids, channel references
and counts, never contact details, and the reason of a dead letter says which field and why, never
what it held (``connectors.base``). As a second line of defence, :func:`scrub_pii` masks anything
that looks like a phone number (ASCII or full-width digits, ``+86``, ``138 0375 0001``), a
resident ID number or a WeChat openid in every event, whoever logged it, tracebacks included; an
exception's text may quote the value it choked on, so in a traceback quoted literals holding
Chinese text and pydantic's ``input_value=…`` are withheld too (a name has no shape to look for).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, Final

import structlog
from structlog.processors import format_exc_info

#: A digit as people type it: ASCII or full-width (``\d`` would take every script's digits).
_D: Final = "[0-9０-９]"
_PII_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # resident ID numbers (18 characters, last may be X) before phones: they contain digit runs
    (
        re.compile(
            rf"(?<![0-9A-Za-z０-９])[1-9１-９]{_D}{{5}}(?:19|20|１９|２０){_D}{{9}}"
            r"[0-9Xx０-９Ｘｘ](?![0-9A-Za-z０-９])"
        ),
        "[id]",
    ),
    # mobiles: 11 digits in a row, or 3-4-4 with spaces or dashes, with or without +86
    (
        re.compile(
            rf"(?<![0-9０-９])(?:[+＋](?:86|８６)[ -]?)?[1１][3-9３-９]{_D}"
            rf"(?:{_D}{{8}}|[ -]{_D}{{4}}[ -]{_D}{{4}})(?![0-9０-９])"
        ),
        "[phone]",
    ),
    (re.compile(rf"(?<![0-9０-９])[0０]{_D}{{2,3}}-?{_D}{{7,8}}(?![0-9０-９])"), "[phone]"),
    # openids: lookarounds, not \b, which sees no boundary between 微信 and o6_…
    (re.compile(r"(?<![0-9A-Za-z_-])o[0-9A-Za-z_-]{22,}(?![0-9A-Za-z_-])"), "[openid]"),
)
#: In a traceback: a quoted literal with Chinese text in it (a name, an address, a petition's
#: words, as an exception's repr quotes them) ...
_QUOTED_CJK: Final = re.compile(
    r"'(?:[^'\\\n]|\\.)*[\u3400-\u9fff\uf900-\ufaff](?:[^'\\\n]|\\.)*'"
    r'|"(?:[^"\\\n]|\\.)*[\u3400-\u9fff\uf900-\ufaff](?:[^"\\\n]|\\.)*"'
)
#: ... and pydantic's ``input_value=…`` (a validation error quotes the input it refused).
_INPUT_VALUE: Final = re.compile(
    r"""input_value=(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^,\]\n]*)"""
)


def scrub_text(text: str) -> str:
    """``text`` with phone numbers, ID numbers and openids replaced by placeholders."""
    for pattern, placeholder in _PII_PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def scrub_exception_text(text: str) -> str:
    """A formatted traceback with :func:`scrub_text` applied, and quoted literals holding Chinese
    text and pydantic's ``input_value=…`` withheld."""
    text = _INPUT_VALUE.sub("input_value=[withheld]", text)
    text = _QUOTED_CJK.sub("'[withheld]'", text)
    return scrub_text(text)


def render_exception(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``exc_info`` becomes the ``exception`` text, scrubbed with
    :func:`scrub_exception_text` (the renderer would otherwise format the traceback after every
    scrubbing processor has run, and print it as it is)."""
    if event_dict.get("exc_info"):
        event_dict = format_exc_info(logger, method, event_dict)
        text = event_dict.get("exception")
        if isinstance(text, str):
            event_dict["exception"] = scrub_exception_text(text)
    return event_dict


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


class _Folding(logging.Formatter):
    """A formatter's lines passed through ``fold`` (``dev`` keeps its screen 100 columns wide)."""

    def __init__(self, inner: logging.Formatter, fold: Callable[[str], str]) -> None:
        super().__init__()
        self.inner, self.fold = inner, fold

    def format(self, record: logging.LogRecord) -> str:
        return self.fold(self.inner.format(record))


def configure(
    level: str = "INFO", json: bool = False, fold: Callable[[str], str] | None = None
) -> None:
    """Configure structlog and the standard library's root logger once per process. ``fold``:
    applied to each rendered text line (never to JSON, which a machine reads whole)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        render_exception,
        scrub_pii,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # a call below the level is dropped before any processor: the routing stage's debug
        # line per petition, stamped and scrubbed only to be discarded, was 6 % of its time
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processor=renderer
    )
    handler.setFormatter(formatter if json or fold is None else _Folding(formatter, fold))
    handler.addFilter(_ScrubbingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every join and fetch; its warnings still show
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
