"""Run the real CLI (or API server) of a target with a probe inside its storage transaction.

    python -m harness.hooked SPEC.json tm    [tm arguments...]
    python -m harness.hooked SPEC.json naive [harness.baseline arguments...]

The program is the unmodified `tm` (or the naive CLI), run in this process after one method
is wrapped. Probes (the spec's `mode`):

    barrier    in the first transaction, right after the file was read (inside the lock, for
               taskmaster: the operation callback runs after the re-read), mark `<actor>:read`
               and wait until every event listed before `<actor>:write` in the interleaving has
               happened (or the barrier times out, which is recorded); after the write, mark
               `<actor>:write`. This is how "A reads, B reads, A writes, B writes" is forced
               across processes.
    mid-write  stop for good in the middle of writing the task file and mark `<actor>:paused`,
               to be killed there: taskmaster between its temp-file write and the rename (the
               lock held); the naive store after truncating and writing half the bytes.

On PostgreSQL (the spec names a `storage` URL) the same probes sit in the database stores:
taskmaster's `PostgresStorage` (barrier: after the locked read, and after its rows are
written, before COMMIT; mid-write: rows written, row lock held, COMMIT not sent) and the naive
`NaiveDbStore` (barrier: after its read, after its write-back; mid-write: between its read
and its write-back, which is as far as one UPDATE can be interrupted).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.history import EVENT, HistoryWriter, now_ns
from harness.processes import Barriers

FOREVER = 3600.0


class Probe:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.actor = spec["actor"]
        self.barriers = Barriers(spec["barriers"])
        self.history = HistoryWriter(spec["history"], f"probe-{self.actor}")
        self.tasks_file = Path(spec["tasks_file"]).absolute()
        self.armed = True
        self.writing = False

    def event(self, name: str, **info: Any) -> None:
        self.history.record(EVENT, value={"event": name}, info=info)

    # barrier ------------------------------------------------------------------------------
    def predecessors(self, event: str) -> list[str]:
        sequence = self.spec["sequence"]
        before = sequence[: sequence.index(event)]
        return [name for name in before if not name.startswith(f"{self.actor}:")]

    def after_read(self, document: Any) -> None:
        self.barriers.mark(f"{self.actor}:read")
        self.event(f"{self.actor}:read", saw=_statuses(document))
        wanted = self.predecessors(f"{self.actor}:write")
        start = now_ns()
        crossed = self.barriers.wait(wanted, timeout=self.spec.get("timeout", 1.0))
        waited_ms = round((now_ns() - start) / 1e6, 1)
        missing = [name for name in wanted if not self.barriers.is_set(name)]
        self.event(
            f"{self.actor}:may-write",
            waited_for=wanted,
            waited_ms=waited_ms,
            timed_out=not crossed,
            missing=missing,
        )

    def after_write(self) -> None:
        if not self.barriers.is_set(f"{self.actor}:write"):
            self.barriers.mark(f"{self.actor}:write")
            self.event(f"{self.actor}:write")

    def wrap_transact(self, cls: type, write_method: str) -> None:
        """Probe the first `cls.transact`: after its read, and right after its write reached
        the file (`write_method`, still inside the lock for taskmaster)."""
        original = cls.transact
        original_write = getattr(cls, write_method)
        probe = self

        def transact(store: Any, operation: Callable[[Any], Any], *args: Any, **kw: Any) -> Any:
            if not probe.armed:
                return original(store, operation, *args, **kw)
            probe.armed = False
            probe.writing = True

            def probed(document: Any) -> Any:
                probe.after_read(document)
                return operation(document)

            try:
                return original(store, probed, *args, **kw)
            finally:
                probe.writing = False
                probe.after_write()

        def write(store: Any, *args: Any, **kw: Any) -> Any:
            result = original_write(store, *args, **kw)
            if probe.writing:
                probe.after_write()
            return result

        cls.transact = transact
        setattr(cls, write_method, write)

    # mid-write ----------------------------------------------------------------------------
    def pause(self, **info: Any) -> None:
        self.barriers.mark(f"{self.actor}:paused", json.dumps(info))
        self.event(f"{self.actor}:paused", **info)
        time.sleep(FOREVER)

    def wrap_replace(self) -> None:
        original = os.replace
        probe = self

        def replace(src: Any, dst: Any, *args: Any, **kw: Any) -> None:
            if probe.armed and Path(os.fsdecode(dst)).absolute() == probe.tasks_file:
                probe.armed = False
                probe.pause(temp=os.fsdecode(src), where="between the temp write and the rename")
            original(src, dst, *args, **kw)

        os.replace = replace

    def wrap_naive_write(self) -> None:
        from harness.baseline import NaiveFileStore

        probe = self

        def write(store: Any, data: Any) -> None:
            with open(store.path, "w") as handle:
                text = json.dumps(data, indent=2)
                handle.write(text[: len(text) // 2])
                handle.flush()
                probe.pause(where="half way through the in-place write", size=len(text))

        NaiveFileStore._write = write

    def wrap_postgres_write(self) -> None:
        from taskmaster.storage.postgres import PostgresStorage

        original = PostgresStorage._write
        probe = self

        def write(store: Any, *args: Any, **kw: Any) -> None:
            original(store, *args, **kw)
            if probe.armed:
                probe.armed = False
                probe.pause(where="inside the transaction: rows written, row locked, no COMMIT")

        PostgresStorage._write = write

    def wrap_naive_db_write(self) -> None:
        from harness.baseline import NaiveDbStore

        probe = self

        def write(store: Any, data: Any) -> None:
            probe.pause(where="between its read and its write-back")

        NaiveDbStore._write = write


def _statuses(document: Any, limit: int = 4) -> dict[str, Any]:
    """The first few tasks' statuses as this transaction read them."""
    document = getattr(document, "document", document)  # a draft holds its document
    data = getattr(document, "data", document)
    try:
        tasks = data["master"]["tasks"] if "master" in data else data["tasks"]
        return {str(t["id"]): t.get("status") for t in tasks[:limit]}
    except (KeyError, TypeError):
        return {}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    program, rest = args[1], args[2:]
    probe = Probe(spec)
    database = bool(spec.get("storage"))
    if spec["mode"] == "barrier":
        if program == "tm" and database:
            from taskmaster.storage.postgres import PostgresStorage

            probe.wrap_transact(PostgresStorage, "_write")
        elif program == "tm":
            from taskmaster.storage.file import FileStorage

            probe.wrap_transact(FileStorage, "_write_locked")
        elif database:
            from harness.baseline import NaiveDbStore

            probe.wrap_transact(NaiveDbStore, "_write")
        else:
            from harness.baseline import NaiveFileStore

            probe.wrap_transact(NaiveFileStore, "_write")
    elif spec["mode"] == "mid-write":
        if program == "tm" and database:
            probe.wrap_postgres_write()
        elif program == "tm":
            probe.wrap_replace()
        elif database:
            probe.wrap_naive_db_write()
        else:
            probe.wrap_naive_write()
    else:
        raise SystemExit(f"unknown probe mode {spec['mode']!r}")
    if program == "tm":
        from taskmaster.cli import main as tm_main

        try:
            tm_main(rest)
        except SystemExit as done:
            return int(done.code or 0) if not isinstance(done.code, str) else 1
        return 0
    from harness.baseline import main as naive_main

    return naive_main(rest)


if __name__ == "__main__":
    sys.exit(main())
