"""The recorded history: one `Op` per operation, written as JSON lines, one file per process.

Every process of a run (the harness itself, each actor, each hooked CLI or server) appends to
its own file under `history/`, so no two processes ever write the same file. Times are
`time.monotonic_ns()`: CLOCK_MONOTONIC is one clock for the whole machine on Linux, so times
taken in different processes compare directly.

An operation that may be killed half way is written twice, Jepsen style: first as `pending`
before it starts, then again, with the same id, once it completes. A pending op with no
completion is indeterminate ("info"): it may or may not have taken effect.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

OK = "ok"
FAIL = "fail"
INFO = "info"
PENDING = "pending"

# kinds of record
WRITE = "write"
READ = "read"
OBSERVE = "observe"
"""A look at the raw file: does it parse, what are its bytes (sha256)."""
INITIAL = "initial"
FINAL = "final"
EVENT = "event"
"""Something that happened (a barrier crossed, a process killed): context, not checked."""
META = "meta"
"""What the run was: scenario, target, parameters, invariants; lets `replay` re-check it."""

HISTORY_DIR = "history"


def now_ns() -> int:
    return time.monotonic_ns()


@dataclass(slots=True)
class Op:
    """One operation as an actor saw it.

    ``key`` names what it is about: ``task/<id>`` for a task's fields (``value`` maps field ->
    value for writes and reads), ``add/<token>`` for a task added with a unique title.
    ``revision`` is the revision a write produced or a read saw, when the target reports one.
    ``info`` holds extras: HTTP status, exit code, the waiting a barrier recorded...
    """

    id: str
    actor: str
    kind: str
    start: int
    end: int | None = None
    outcome: str = OK
    channel: str = ""
    instance: int | None = None
    key: str | None = None
    value: Any = None
    revision: int | None = None
    phase: str | None = None
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float | None:
        if self.end is None:
            return None
        return (self.end - self.start) / 1e6

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}
        return json.dumps(data, separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Op:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class HistoryWriter:
    """Appends ops of one process to one JSON-lines file; each line is flushed at once, so
    whatever a killed process acknowledged is on disk."""

    def __init__(self, path: Path | str, actor: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.actor = actor
        self._handle = open(self.path, "a", buffering=1)  # noqa: SIM115 - lives with the writer
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self.count = 0

    @classmethod
    def in_dir(cls, run_dir: Path | str, actor: str) -> HistoryWriter:
        return cls(Path(run_dir) / HISTORY_DIR / f"{actor}.jsonl", actor)

    def new_id(self) -> str:
        return f"{self.actor}:{next(self._ids)}"

    def op(self, kind: str, **values: Any) -> Op:
        """A new op of this actor, started now (not yet written)."""
        values.setdefault("start", now_ns())
        values.setdefault("actor", self.actor)
        return Op(id=self.new_id(), kind=kind, **values)

    def write(self, op: Op) -> Op:
        line = op.to_json() + "\n"
        with self._lock:
            self._handle.write(line)
            self.count += 1
        return op

    def pending(self, op: Op) -> Op:
        """Record that `op` is about to run (it may never complete)."""
        return self.write(replace(op, outcome=PENDING, end=None))

    def complete(self, op: Op, outcome: str = OK, **values: Any) -> Op:
        values.setdefault("end", now_ns())
        done = replace(op, outcome=outcome, **values)
        return self.write(done)

    def record(self, kind: str, **values: Any) -> Op:
        """An instantaneous op (start == end unless given)."""
        op = self.op(kind, **values)
        if op.end is None:
            op.end = op.start
        return self.write(op)

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a process killed mid-line: the op was never acknowledged


def merge(records: Iterable[dict[str, Any]]) -> list[Op]:
    """Pair pending records with their completions; an unpaired pending op becomes `info`."""
    by_id: dict[str, Op] = {}
    for data in records:
        op = Op.from_dict(data)
        previous = by_id.get(op.id)
        if previous is None or previous.outcome == PENDING:
            by_id[op.id] = op
    ops = []
    for op in by_id.values():
        if op.outcome == PENDING:
            op = replace(op, outcome=INFO, end=None)
        ops.append(op)
    ops.sort(key=lambda o: (o.start, o.id))
    return ops


def read_history(directory: Path | str) -> list[Op]:
    """Every op recorded under `directory` (a run's target folder or its `history/`)."""
    base = Path(directory)
    folder = base / HISTORY_DIR if (base / HISTORY_DIR).is_dir() else base
    records: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        records.extend(iter_lines(path))
    return merge(records)


def count_completed(
    directory: Path | str, kinds: tuple[str, ...] = (WRITE, READ), channel: str | None = None
) -> int:
    """Completed ops of `kinds` (through `channel`, if given) recorded so far under
    `directory` (for progress; our files are small enough to rescan)."""
    needles = [f'"kind":"{kind}"'.encode() for kind in kinds]
    via = f'"channel":"{channel}"'.encode() if channel else b""
    total = 0
    for path in Path(directory).glob("*.jsonl"):
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        for line in data.splitlines():
            if (
                b'"outcome":"pending"' not in line
                and via in line
                and any(n in line for n in needles)
            ):
                total += 1
    return total
