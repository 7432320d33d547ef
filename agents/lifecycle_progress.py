"""Petitioners hear through the channel they came from: the lifecycle's progress messages.

Per local channel with a progress topic (its declaration, ``ChannelSpec.progress``:
``miniprogram.progress``, ``hotline12345.progress``), one JSON message per step a petitioner
cares about, keyed by the channel's own reference (the field its declaration names: ``appealId``,
``GDBH``), with CloudEvents headers (type :data:`PROGRESS_TYPE`; the id, ``ce_id``, is stable: a
message regenerated after a crash carries the same one, so the channel drops the twin):

========================  ===================================================================
``kind``                  when, and what it adds
========================  ===================================================================
``received``              the petition is taken in
``handed``                handed to a unit: ``unitName`` (null when the theme is sensitive)
``signed_for``            the unit signed for it
``material_needed``       the unit asks for material: ``material``, what is needed
``material_received``     the material arrived
``extended``              the office approved an extension: ``deadline``, the new one
``replied``               the unit replied: ``replyText``
``transferred``           handed to the province (another city's or province's matter)
``closed``                closed: ``closure`` (rated, dissatisfied, unrated, transferred)
``linked``                a repeat joined the earlier open case (``petitionRef``: that case's):
                          the petitioner hears that case's progress from then on
========================  ===================================================================

A repeat linked to an earlier case (:mod:`.lifecycle_repeats`) hears every later step of that
case on its own channel, keyed by its own reference, with ``petitionRef`` the case's id.

A provincial dispatch hears through ``province.feedback`` instead (the province has no progress
topic). Nothing personal goes out that the channel did not send: the message names the unit (not
for a sensitive theme), the unit's words to the petitioner (what material, the reply) and times.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from petition_hub.connectors import PROGRESS_TOPICS
from petition_hub.domain.lifecycle import (
    Closure,
    Effect,
    Event,
    ExtensionAnswered,
    LifecycleState,
    MaterialRequested,
    PetitionState,
    Replied,
    StateChanged,
)
from petition_hub.domain.petition import Channel
from petition_hub.domain.rules import RuleSet
from petition_hub.domain.sla import SHANGHAI
from petition_hub.runtime.records import Output

__all__ = ["PROGRESS_TYPE", "ProgressRecords", "progress_kind", "sensitive_theme"]

#: The CloudEvents type of a progress message (JSON: its value names no schema).
PROGRESS_TYPE: Final = "cn.gov.pds.hub.Progress"

#: The state changes a petitioner hears of, by the state reached.
_KIND_OF_STATE: Final = {
    LifecycleState.RECEIVED: "received",
    LifecycleState.ROUTED: "handed",
    LifecycleState.SIGNED_FOR: "signed_for",
    LifecycleState.WAITING_MATERIAL: "material_needed",
    LifecycleState.REPLIED: "replied",
    LifecycleState.TRANSFERRED: "transferred",
    LifecycleState.CLOSED: "closed",
}
_CLOSURE_WORDS: Final = {
    Closure.RATED: "已评价",
    Closure.DISSATISFIED: "不满意，已办结",
    Closure.UNRATED: "未评价",
    Closure.TRANSFERRED: "已转省平台办理",
}


def progress_kind(effect: Effect) -> str | None:
    """What ``effect`` is for the petitioner (the table of the module), or None."""
    if isinstance(effect, ExtensionAnswered):
        return "extended" if effect.approved else None
    if not isinstance(effect, StateChanged):
        return None
    if effect.from_state is LifecycleState.WAITING_MATERIAL and effect.cause == "material_received":
        return "material_received"
    return _KIND_OF_STATE.get(effect.to_state)


def sensitive_theme(rules: RuleSet, theme: str | None) -> bool:
    """Whether the routing theme ``theme`` may be sensitive (itself, or one of its sub-routes:
    the safe side, the unit's name is then withheld); unknown themes are not."""
    if not theme or theme not in rules.theme_by_id:
        return False
    t = rules.theme(theme)
    return t.sensitive or any(sub.sensitive for sub in t.sub_routes)


def _local(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


class ProgressRecords:
    """Writes the progress messages of the lifecycle's effects (``unit_name``: a unit's name)."""

    def __init__(self, unit_name: Callable[[str], str]) -> None:
        self.unit_name = unit_name

    def render(
        self,
        effect: Effect,
        s: PetitionState,
        channel_ref: str,
        event: Event | None,
        *,
        sensitive: bool,
        channel: Channel | None = None,
    ) -> list[Output]:
        """The message of ``effect`` (the petition ``s`` after it) for the petitioner of
        ``channel_ref`` on ``channel`` (default the petition's: another for a linked repeat);
        none when the channel has no progress topic or the effect is not one the petitioner
        hears of."""
        kind = progress_kind(effect)
        if kind is None:
            return []
        body = _body(s, kind, effect.at, channel_ref, channel or s.channel)
        if body is None:
            return []
        self._details(body, effect, event, sensitive)
        return [_message(body, channel or s.channel, channel_ref)]

    def linked(
        self, s: PetitionState, channel: Channel, channel_ref: str, at: datetime
    ) -> list[Output]:
        """The repeat of ``channel_ref`` on ``channel`` joined the open case ``s``: its
        petitioner hears so, and the case's present state."""
        body = _body(s, "linked", at, channel_ref, channel)
        if body is None:
            return []
        return [_message(body, channel, channel_ref)]

    def _details(
        self, body: dict[str, Any], effect: Effect, event: Event | None, sensitive: bool
    ) -> None:
        kind = body["kind"]
        if kind == "handed" and isinstance(effect, StateChanged) and effect.unit and not sensitive:
            body["unitName"] = self.unit_name(effect.unit)
        elif kind == "material_needed" and isinstance(event, MaterialRequested):
            body["material"] = event.reason or None
        elif kind == "extended" and isinstance(effect, ExtensionAnswered):
            body["deadline"] = effect.deadline.isoformat() if effect.deadline else None
        elif kind == "replied" and isinstance(event, Replied):
            body["replyText"] = event.text
        elif kind == "closed" and isinstance(effect, StateChanged) and effect.closure:
            body["closure"] = effect.closure.value


def _body(
    s: PetitionState, kind: str, at: datetime, channel_ref: str, channel: Channel
) -> dict[str, Any] | None:
    """A progress message's fields (none when ``channel`` has no progress topic)."""
    where = PROGRESS_TOPICS.get(channel)
    if where is None:
        return None
    return {
        where.ref_field: channel_ref,
        "petitionRef": s.petition_id,
        "kind": kind,
        "at": at.isoformat(),
        "round": s.round,
        "unitName": None,
        "material": None,
        "deadline": None,
        "replyText": None,
        "closure": None,
    }


def _message(body: dict[str, Any], channel: Channel, channel_ref: str) -> Output:
    body["text"] = _text(body)
    value = json.dumps(body, ensure_ascii=False).encode()
    topic = PROGRESS_TOPICS[channel].topic
    return Output(topic, channel_ref.encode(), value, ce_type=PROGRESS_TYPE)


def _text(body: dict[str, Any]) -> str:
    """The message in words, as the channel may show or send it (an SMS of the hotline)."""
    kind = body["kind"]
    if kind == "received":
        return "您的诉求已受理。"
    if kind == "handed":
        return f"您的诉求已交由{body['unitName'] or '相关单位'}办理。"
    if kind == "signed_for":
        return "承办单位已签收您的诉求，正在办理。"
    if kind == "material_needed":
        return f"承办单位需要您补充材料：{body['material'] or '请联系承办单位'}。"
    if kind == "material_received":
        return "承办单位已收到您补充的材料，继续办理。"
    if kind == "extended":
        deadline = datetime.fromisoformat(body["deadline"]) if body["deadline"] else None
        return f"经批准，办理期限延长至{_local(deadline)}（北京时间）。"
    if kind == "replied":
        return f"承办单位已答复：{body['replyText']}"
    if kind == "linked":
        return "您反映的事项已在办理中，本次诉求与此前的诉求合并办理，办理进展将继续告知您。"
    if kind == "transferred":
        return "您反映的事项不属本市办理，已转交河南省平台办理。"
    closure = body["closure"]
    words = _CLOSURE_WORDS.get(Closure(closure), closure) if closure else ""
    return f"您的诉求已办结（{words}）。" if words else "您的诉求已办结。"
