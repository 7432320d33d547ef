"""The lifecycle's commands to routing, on ``hub.reroute`` (the record's shape is the codec's:
:func:`petition_hub.schemas.codec.route_command_record`).

Routing owns a petition's assignment: who handles it, who returned it, whether it waits in
triage. The lifecycle owns the clocks, so it is the one that accepts a unit's return (within the
sign-for window) and sees a petition close; it tells routing with a command, and learns the new
assignment back only from routing's decisions (``<app>-routed``).

- ``RouteCommand.v1`` (key: petition id, co-partitioned with ``hub.petitions``; no personal data):
  ``RETURNED`` (route again without ``unit``) or ``CLOSED`` (routing may forget the petition; its
  personal data's retention starts at ``at``).
- :func:`commands_of`: the commands of one effect of the state machine (for the lifecycle stage,
  which gives them event ids like its other outputs: exactly once);
- :func:`read`: a command as routing reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from petition_hub import schemas
from petition_hub.domain.lifecycle import Effect, LifecycleState, RoutingRequested, StateChanged
from petition_hub.runtime.records import Output
from petition_hub.schemas import codec
from petition_hub.topics.names import REROUTE

CommandKind = Literal["RETURNED", "CLOSED"]


@dataclass(frozen=True)
class RouteCommand:
    """A command to routing about one petition."""

    petition_id: str
    kind: CommandKind
    at: datetime
    unit: str | None = None
    """``RETURNED``: the unit whose return was accepted."""


def command(cmd: RouteCommand) -> Output:
    """The ``hub.reroute`` record of ``cmd`` (the stage sets its event id)."""
    record = codec.route_command_record(cmd.petition_id, cmd.kind, cmd.at, cmd.unit)
    return Output(REROUTE, cmd.petition_id.encode(), schemas.encode(codec.ROUTE_COMMAND_V1, record))


def commands_of(effect: Effect) -> list[Output]:
    """What routing must be told of ``effect``: an accepted return (the unit that returned it is
    the last of ``exclude_units``), or the petition's closure; nothing for any other effect."""
    if isinstance(effect, RoutingRequested):
        unit = effect.exclude_units[-1] if effect.exclude_units else None
        return [command(RouteCommand(effect.petition_id, "RETURNED", effect.at, unit))]
    if isinstance(effect, StateChanged) and effect.to_state is LifecycleState.CLOSED:
        return [command(RouteCommand(effect.petition_id, "CLOSED", effect.at))]
    return []


def read(value: bytes) -> RouteCommand:
    """A ``hub.reroute`` record; raises when it does not decode (routing rejects it, with why)."""
    rec = codec.read_route_command(schemas.decode(value)[1])
    kind: CommandKind = "RETURNED" if rec["kind"] == "RETURNED" else "CLOSED"
    return RouteCommand(str(rec["petitionId"]), kind, rec["at"], rec["unit"])
