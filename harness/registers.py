"""The register model of a history: every field of every task is a register.

A write is a candidate source of the values it wrote; it "definitely precedes" another
operation when it was acknowledged before that one started (``a.end < b.start``). An
indeterminate write (killed, timed out) never definitely precedes anything, and the initial
state precedes everything.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.history import FAIL, FINAL, INITIAL, OK, WRITE, Op

INF = math.inf


@dataclass(frozen=True, slots=True)
class Source:
    """Something that may have put `value` into a register: a write, or the initial state."""

    value: Any
    inv: float
    ack: float
    op: Op | None  # None: the initial state

    @property
    def acknowledged(self) -> bool:
        return self.ack != INF


class Registers:
    """Writes per (key, field), built once from a history."""

    def __init__(self, ops: Iterable[Op]) -> None:
        self.sources: dict[tuple[str, str], list[Source]] = defaultdict(list)
        self.acked: dict[tuple[str, str], list[Source]] = defaultdict(list)
        self.adds: dict[str, list[Op]] = defaultdict(list)
        for op in ops:
            if op.kind == INITIAL and isinstance(op.value, dict):
                # The initial state precedes every operation of the run.
                for key, values in op.value.items():
                    for name, value in values.items():
                        self._add((key, name), Source(value, -INF, -INF, None))
            elif op.kind == WRITE and op.outcome != FAIL and op.key:
                if op.key.startswith("add/"):
                    self.adds[op.key].append(op)
                    continue
                ack = op.end if op.outcome == OK and op.end is not None else INF
                for name, value in (op.value or {}).items():
                    self._add((op.key, name), Source(value, op.start, ack, op))

    def _add(self, register: tuple[str, str], source: Source) -> None:
        self.sources[register].append(source)
        if source.acknowledged:
            self.acked[register].append(source)

    def candidates(
        self, register: tuple[str, str], value: Any, before: float | None = None
    ) -> list[Source]:
        """The sources of `value`; with `before`, only those invoked before that time (an
        operation that ended then cannot have seen a write that had not even started)."""
        limit = INF if before is None else before
        return [s for s in self.sources.get(register, ()) if s.value == value and s.inv < limit]

    def superseded(self, register: tuple[str, str], source: Source, before: float) -> Source | None:
        """An acknowledged write that definitely follows `source` and was acked before `before`."""
        for other in self.acked.get(register, ()):
            if other is not source and other.inv > source.ack and other.ack < before:
                return other
        return None


def ops_of(sources: Iterable[Source]) -> tuple[Op, ...]:
    return tuple(s.op for s in sources if s.op is not None)


def fields_of(op: Op) -> dict[str, Any]:
    return op.value if isinstance(op.value, dict) else {}


def snapshots(ops: list[Op]) -> list[Op]:
    return [op for op in ops if op.kind == FINAL]


def final_value(state: dict[str, Any], key: str, name: str) -> tuple[bool, Any]:
    """(present, value) of register (key, name) in a final state."""
    task_id = key.removeprefix("task/")
    task = (state.get("tasks") or {}).get(task_id)
    if task is None or name not in task:
        return False, None
    return True, task[name]


def end_of(op: Op) -> float:
    return INF if op.end is None else op.end
