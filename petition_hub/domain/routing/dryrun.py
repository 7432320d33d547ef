"""Dry run of a new rules version: what a candidate rule set would route differently. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from petition_hub.domain.routing.model import RoutingDecision


@dataclass(frozen=True)
class RouteChange:
    """A petition that a candidate rules version routes differently."""

    before: RoutingDecision
    after: RoutingDecision

    @property
    def petition_id(self) -> str:
        return self.after.record.petition_id

    @property
    def lost(self) -> tuple[str, ...]:
        """Topics that would no longer receive it."""
        return tuple(t for t in self.before.topics if t not in self.after.topics)

    @property
    def gained(self) -> tuple[str, ...]:
        """Topics that would receive it newly."""
        return tuple(t for t in self.after.topics if t not in self.before.topics)

    @property
    def lead_changed(self) -> bool:
        return self.before.topic != self.after.topic


@dataclass(frozen=True)
class DryRun:
    """What a candidate rules version would route differently over a set of petitions."""

    current_version: str
    candidate_version: str
    total: int
    changes: tuple[RouteChange, ...]

    def by_unit(self) -> dict[str, tuple[int, int, int]]:
        """Topic → (petitions gained, lost, lead changes touching it), sorted by topic."""
        counts: dict[str, list[int]] = {}
        for c in self.changes:
            for t in c.gained:
                counts.setdefault(t, [0, 0, 0])[0] += 1
            for t in c.lost:
                counts.setdefault(t, [0, 0, 0])[1] += 1
            if c.lead_changed:
                for t in {c.before.topic, c.after.topic}:
                    counts.setdefault(t, [0, 0, 0])[2] += 1
        return {t: (g, lo, ld) for t, (g, lo, ld) in sorted(counts.items())}

    def render(self) -> str:
        """A per-unit text report, then each changed petition (ids only: no personal data)."""
        lines = [
            f"rules {self.current_version} → {self.candidate_version}: "
            f"{len(self.changes)} of {self.total} petitions route differently"
        ]
        for topic, (gained, lost, leads) in self.by_unit().items():
            lines.append(f"  {topic:32} +{gained:<4} -{lost:<4} lead changes {leads}")
        for c in self.changes:
            lines.append(
                f"  {c.petition_id}: {c.before.record.decision} → {c.after.record.decision}"
                f" (theme {c.before.record.theme} → {c.after.record.theme})"
            )
        return "\n".join(lines)
