"""What every ``petition-hub`` command shares: the error handler, the common options, the
console (tables through ``rich``, progress on standard error).

Consumes: the exceptions a command raises. Emits: one line on standard error and a non-zero exit
for a configuration or connection problem (the traceback only with the global ``--debug``).
Keeps: nothing beyond the process (``-b/--broker`` sets ``HUB_BROKER`` for the settings read after
it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import click

from petition_hub.service.logs import scrub_exception_text

F = TypeVar("F", bound=Callable[..., Any])

#: The exit status of a configuration or connection problem.
CONFIG_EXIT: Final = 2


def one_line(exc: BaseException) -> str:
    """An exception as one line an operator can act on: its message's lines joined, personal
    data scrubbed (a message may quote the value it choked on)."""
    from petition_hub.domain.rules import RulesError

    if isinstance(exc, RulesError):
        shown = "; ".join(exc.errors[:5])
        more = f"; … and {len(exc.errors) - 5} more" if len(exc.errors) > 5 else ""
        text = f"routing rules do not load ({len(exc.errors)} problem(s)): {shown}{more}"
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return scrub_exception_text(text)


def _known_problem(exc: BaseException) -> str | None:
    """What a configuration or connection problem means, or None for anything else."""
    from petition_hub.domain.calendar import CalendarConfigError
    from petition_hub.domain.rules import RulesError
    from petition_hub.service.registry_sync import RegistrationError
    from petition_hub.topics import TopicsFileError

    if isinstance(exc, RulesError | TopicsFileError | CalendarConfigError | RegistrationError):
        return one_line(exc)
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"cannot reach the broker or service: {one_line(exc)}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or one_line(exc)}{where}"
    module = type(exc).__module__.split(".")[0]
    if module in ("kafka", "aiokafka", "confluent_kafka"):  # a Kafka client's own errors
        return f"Kafka: {type(exc).__name__}: {one_line(exc)} (is HUB_BROKER / --broker right?)"
    return None


class HubGroup(click.Group):
    """The root group: every command's configuration or connection problem becomes one line on
    standard error and exit status 2 (any other error: one line and 1), here and nowhere else;
    ``--debug`` lets the exception through with its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            if ctx.find_root().params.get("debug"):
                raise
            known = _known_problem(exc)
            if known is not None:
                raise HubError(known, CONFIG_EXIT) from exc
            raise HubError(
                f"{type(exc).__name__}: {one_line(exc)} (--debug shows the traceback)", 1
            ) from exc


class HubError(click.ClickException):
    """One line on standard error (``Error: …``) and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = CONFIG_EXIT) -> None:
        super().__init__(" ".join(message.splitlines()))
        self.exit_code = exit_code


def _set_broker(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        from petition_hub.service.settings import get_settings

        # every command reads the broker from the settings: the option is HUB_BROKER for them
        os.environ["HUB_BROKER"] = value if "://" in value else f"kafka://{value}"
        get_settings.cache_clear()


def broker_option(command: F) -> F:
    """``-b/--broker URL``: the broker for this run (instead of ``HUB_BROKER``)."""
    return click.option(
        "-b",
        "--broker",
        expose_value=False,
        is_eager=True,
        callback=_set_broker,
        metavar="URL",
        help="kafka://host:port[,host:port] or tansu://host:port (default: $HUB_BROKER)",
    )(command)


def json_option(command: F) -> F:
    """``--json``: machine-readable output instead of the table or text."""
    return click.option("--json", "as_json", is_flag=True, help="JSON instead of text")(command)


def stderr_console() -> Any:
    """A rich console on standard error (progress, status), quiet when that is not a terminal
    unless FORCE_COLOR asks."""
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def working(what: str) -> Iterator[None]:
    """A spinner with ``what`` on standard error while a long step runs (nothing on stdout)."""
    console = stderr_console()
    if not console.is_terminal:
        yield
        return
    with console.status(what):
        yield


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], right_from: int = 99) -> str:
    """``rows`` under ``headers`` as a text table for standard output, columns measured by their
    display width (a Chinese character takes two), those from ``right_from`` on aligned right;
    no rules or borders, so each row stays one line a script can split."""
    import io

    from rich.console import Console
    from rich.table import Table

    grid = Table(box=None, pad_edge=False, header_style="", show_edge=False)
    for i, header in enumerate(headers):
        grid.add_column(header, justify="right" if i >= right_from else "left", no_wrap=True)
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    out = io.StringIO()
    # as wide as the table needs: a pipe or a file gets whole rows, a terminal may wrap them
    Console(file=out, width=10_000, color_system=None, highlight=False, emoji=False).print(grid)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
