"""The `reference-interop` invariant: `tm` and the real task-master-ai writing one project.

The scenario's writes each set one place (a field of a task) once, so the final file must hold
every acknowledged value; the reference's writes run one at a time (none can undo another's:
each reads after the previous one wrote), so a reference write missing at the end was written
over by `tm`. A `tm` write missing at the end was reverted by the reference (which writes back
a copy it read before that write); it counts as **detected** when the journal has an outside
change whose `reverts` names its place (tag, id, field) at its revision or later.

    silent-loss   an acknowledged write is missing at the end and nothing reported it: a
                  reference write that `tm` wrote over (no lock can excuse that one), or a `tm`
                  write the reference reverted that no journal entry names (on a run whose
                  `credit_detections` is off, the baseline's, every reverted `tm` write)

The row's note gives the figures of each side (acknowledged, lost, detected, silent).

Torn files are `file-parses`' (the observer's looks at the file while everything runs).

What the runner puts in the run's config for this check:

    tm_commits         [{"tag", "id", "field", "after", "revision"}]: the journal's record of
                       the places `tm` commits set (found with `tm history --json`)
    reverts            [{"revision", "tag", "id", "field"}]: every `reverts` item of the
                       journal's outside changes
    credit_detections  whether a reverted write that the journal names counts as detected
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.history import FINAL, OBSERVE, OK, WRITE, Op
from harness.registers import final_value
from harness.violations import Violation

REFERENCE_CHANNEL = "reference"
"""The channel of the reference tool's writes in the history."""
ANOMALIES = ("silent-loss",)
TAG = "master"


@dataclass
class Counts:
    reference_acked: int = 0
    reference_failed: int = 0
    reference_lost: int = 0
    tm_acked: int = 0
    tm_failed: int = 0
    tm_lost: int = 0
    tm_detected: int = 0
    torn: int = 0
    looks: int | None = None
    lost: list[tuple[Op, str, Any, bool]] = field(default_factory=list)
    """(write, field, the value at the end, detected) of every lost write."""

    @property
    def tm_silent(self) -> int:
        return self.tm_lost - self.tm_detected

    def summary(self) -> str:
        looks = f" in {self.looks} looks" if self.looks is not None else ""
        return (
            f"reference: {self.reference_acked} writes acknowledged ({self.reference_failed} "
            f"failed), {self.reference_lost} lost to tm; tm: {self.tm_acked} acknowledged "
            f"({self.tm_failed} failed), {self.tm_lost} reverted by the reference, "
            f"{self.tm_detected} of them detected, {self.tm_silent} silent; torn reads: "
            f"{self.torn}{looks}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_acked": self.reference_acked,
            "reference_failed": self.reference_failed,
            "reference_lost": self.reference_lost,
            "tm_acked": self.tm_acked,
            "tm_failed": self.tm_failed,
            "tm_lost": self.tm_lost,
            "tm_detected": self.tm_detected,
            "tm_silent": self.tm_silent,
            "torn": self.torn,
        }


def _final(ops: list[Op]) -> Op | None:
    finals = [op for op in ops if op.kind == FINAL and isinstance(op.value, dict)]
    return max(finals, key=lambda op: op.start) if finals else None


def _task_id(op: Op) -> str | None:
    key = op.key or ""
    return key.removeprefix("task/") if key.startswith("task/") else None


def detected(
    place: tuple[str, str, str], revision: int | None, reverts: list[dict[str, Any]]
) -> bool:
    """Whether the journal names `place` as reverted at `revision` or a later one."""
    if revision is None:
        return False
    tag, task_id, name = place
    return any(
        r.get("tag") == tag
        and str(r.get("id")) == task_id
        and r.get("field") == name
        and isinstance(r.get("revision"), int)
        and r["revision"] >= revision
        for r in reverts
    )


def commit_revision(
    place: tuple[str, str, str], value: Any, commits: list[dict[str, Any]]
) -> int | None:
    """The revision of the `tm` commit that set `place` to `value` (unique tokens), if the
    journal recorded it."""
    tag, task_id, name = place
    for c in commits:
        if (
            c.get("tag") == tag
            and str(c.get("id")) == task_id
            and c.get("field") == name
            and c.get("after") == value
        ):
            revision = c.get("revision")
            return revision if isinstance(revision, int) else None
    return None


def count(ops: list[Op], config: dict[str, Any]) -> Counts:
    counts = Counts()
    counts.torn = sum(
        1
        for op in ops
        if op.kind in (OBSERVE, FINAL)
        and isinstance(op.value, dict)
        and op.value.get("parses") is False
    )
    for op in ops:
        if op.kind == "event" and isinstance(op.value, dict) and "observer" in op.value:
            counts.looks = (counts.looks or 0) + int(op.value["observer"].get("looks", 0))
    final = _final(ops)
    state = final.value if final is not None else None
    commits = list(config.get("tm_commits") or [])
    reverts = list(config.get("reverts") or [])
    credit = bool(config.get("credit_detections", True))
    for op in ops:
        if op.kind != WRITE or _task_id(op) is None or not isinstance(op.value, dict):
            continue
        reference = op.channel == REFERENCE_CHANNEL
        if op.outcome != OK:
            if reference:
                counts.reference_failed += 1
            else:
                counts.tm_failed += 1
            continue
        if reference:
            counts.reference_acked += 1
        else:
            counts.tm_acked += 1
        if state is None or not state.get("parses"):
            continue
        for name, value in op.value.items():
            present, at_end = final_value(state, op.key, name)
            if present and at_end == value:
                continue
            if reference:
                counts.reference_lost += 1
                counts.lost.append((op, name, at_end, False))
                continue
            place = (TAG, str(_task_id(op)), name)
            found = credit and detected(place, commit_revision(place, value, commits), reverts)
            counts.tm_lost += 1
            counts.tm_detected += found
            counts.lost.append((op, name, at_end, found))
    return counts


def check_reference_interop(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    counts = count(ops, config)
    found: list[Violation] = []
    final = _final(ops)
    for op, name, at_end, was_detected in counts.lost:
        if was_detected:
            continue
        context = (op,) if final is None else (op, final)
        if op.channel == REFERENCE_CHANNEL:
            found.append(
                Violation(
                    "silent-loss",
                    f"the reference's acknowledged {op.key} {name}={op.value[name]!r} is not in "
                    f"the final file ({at_end!r}): a tm write replaced the file without it",
                    context,
                )
            )
        else:
            found.append(
                Violation(
                    "silent-loss",
                    f"tm's acknowledged {op.key} {name}={op.value[name]!r} was reverted to "
                    f"{at_end!r} and no journal entry says so",
                    context,
                )
            )
    return found


__all__ = [
    "ANOMALIES",
    "REFERENCE_CHANNEL",
    "Counts",
    "check_reference_interop",
    "commit_revision",
    "count",
    "detected",
]
