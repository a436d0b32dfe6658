"""FileStorage across real processes: contention and SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import multiprocess
import orjson
import pytest

from harness.baseline import NaiveFileStore, TornRead
from taskmaster.model import Document
from taskmaster.storage import Draft, ProjectState
from taskmaster.storage.file import FileStorage

pytestmark = pytest.mark.slow

PROCESSES = 8
INCREMENTS = 100
HANG_DEADLINE = 120


def _counter_document() -> Document:
    return Document({"master": {"tasks": [{"id": 1, "title": "counter", "count": 0}]}})


def _increment(draft: Draft) -> int:
    task = draft.document.tasks("master")[0]
    task["count"] += 1
    return task["count"]


def _safe_worker(path: str, barrier, increments: int) -> int:
    storage = FileStorage(path, lock_timeout=60)
    barrier.wait()
    return sum(1 for _ in range(increments) if storage.transact(_increment).changed)


def _naive_increment(data: dict) -> None:
    data["master"]["tasks"][0]["count"] += 1


def _naive_worker(path: str, barrier, increments: int) -> int:
    store = NaiveFileStore(path)
    barrier.wait()
    acknowledged = 0
    for _ in range(increments):
        try:
            store.transact(_naive_increment)
        except TornRead:
            # It read a half-written file: that increment failed (the naive tool would crash).
            # No retry: two overlapping truncate+write calls can leave the file torn for good.
            continue
        acknowledged += 1
    return acknowledged


def _report(worker, path: str, barrier, results) -> None:
    results.put(worker(path, barrier, INCREMENTS))


def _run_contention(path: Path, worker) -> tuple[int, int | None]:
    """Start every process at once behind a barrier; verdict from what each acknowledged."""
    context = multiprocess.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    procs = [
        context.Process(target=_report, args=(worker, str(path), barrier, results))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        acknowledged = sum(results.get(timeout=HANG_DEADLINE) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    assert all(proc.exitcode == 0 for proc in procs)
    try:
        final = orjson.loads(path.read_bytes())["master"]["tasks"][0]["count"]
    except orjson.JSONDecodeError:
        final = None  # torn: every increment is gone
    return acknowledged, final


def test_no_increment_is_lost_under_contention(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    FileStorage(path).create(_counter_document(), ProjectState())
    acknowledged, final = _run_contention(path, _safe_worker)
    assert acknowledged == PROCESSES * INCREMENTS
    assert final == acknowledged


def test_the_same_contention_loses_increments_on_the_naive_path(tmp_path: Path) -> None:
    """Proof that the test above can fail: without the lock, updates are lost.

    Up to six rounds: on a machine loaded by other tests the scheduler can run the eight
    writers one after another, and a round without overlap loses nothing (the harness's
    lost-update scenario forces the interleaving instead of hoping for it).
    """
    losses = []
    for round_ in range(6):
        path = tmp_path / f"tasks-{round_}.json"
        FileStorage(path).create(_counter_document(), ProjectState())
        acknowledged, final = _run_contention(path, _naive_worker)
        assert acknowledged > 0
        losses.append(acknowledged if final is None else acknowledged - final)
        if losses[-1] > 0:
            return
    pytest.fail(f"the naive writers lost nothing in {len(losses)} rounds: the check proves nothing")


# crash: SIGKILL at random moments ----------------------------------------------------------------

APPENDER = textwrap.dedent(
    """
    import sys
    from taskmaster.storage.file import FileStorage
    path, name = sys.argv[1], sys.argv[2]
    storage = FileStorage(path, lock_timeout=60)
    i = 0
    while True:
        token = f"{name}-{i}"
        def append(draft, token=token):
            document = draft.document
            tasks = document.tasks("master")
            tasks.append({"id": document.next_task_id("master"), "title": token,
                          "details": "x" * 2000})
        storage.transact(append)
        print(token, flush=True)  # acknowledged only once the commit is durable
        i += 1
    """
)

NAIVE_APPENDER = textwrap.dedent(
    """
    import sys
    from harness.baseline import NaiveFileStore, TornRead
    store = NaiveFileStore(sys.argv[1])
    i = 0
    while True:
        def append(data, i=i):
            tasks = data["master"]["tasks"]
            tasks.append({"id": len(tasks) + 1, "title": f"n-{i}", "details": "x" * 2000})
        try:
            store.transact(append)
        except TornRead:
            sys.exit(3)
        print(i, flush=True)
        i += 1
    """
)


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, env=env
    )


def _kill_after(
    procs: list[subprocess.Popen[str]], delay: float, *, once_writing: bool = False
) -> list[str]:
    """SIGKILL every process ``delay`` seconds from now and return what each printed.

    With ``once_writing`` the delay starts when every process has printed its first line, so
    that a slow start (imports on a loaded machine) never eats the time meant for writing.
    """
    early = [_first_line(proc) for proc in procs] if once_writing else ["" for _ in procs]
    time.sleep(delay)
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
    lines: list[str] = []
    for proc, head in zip(procs, early, strict=True):
        out, _ = proc.communicate(timeout=HANG_DEADLINE)
        lines.extend((head + out).split())
    return lines


def _first_line(proc: subprocess.Popen[str]) -> str:
    """Read from the pipe's descriptor (not its buffer, which ``communicate`` would skip)."""
    assert proc.stdout is not None
    received = b""
    deadline = time.monotonic() + HANG_DEADLINE
    while b"\n" not in received:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "a writer exited before its first write"
            received += chunk
        assert time.monotonic() < deadline, "a writer never acknowledged a first write"
    return received.decode()


def test_sigkilled_writers_never_tear_the_file_or_lose_an_acknowledged_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tasks.json"
    FileStorage(path).create(Document.empty(), ProjectState())
    rng = random.Random(1234)
    acknowledged: list[str] = []
    for round_no in range(25):
        writers = [_spawn(APPENDER, str(path), f"r{round_no}w{w}") for w in range(3)]
        acknowledged += _kill_after(writers, rng.uniform(0.05, 0.45), once_writing=True)
        data = orjson.loads(path.read_bytes())  # the file always parses
        present = {task["title"] for task in data["master"]["tasks"]}
        missing = [token for token in acknowledged if token not in present]
        assert not missing, f"round {round_no}: acknowledged writes lost: {missing[:5]}"
    assert len(acknowledged) > 100, "the writers barely ran: the test proved little"


def test_sigkilled_naive_writers_tear_the_file(tmp_path: Path) -> None:
    """Proof that the crash test can fail: direct writes killed mid-way leave invalid JSON."""
    path = tmp_path / "tasks.json"
    FileStorage(path).create(Document.empty(), ProjectState())
    rng = random.Random(99)
    for _ in range(200):
        writers = [_spawn(NAIVE_APPENDER, str(path)) for _ in range(2)]
        _kill_after(writers, rng.uniform(0.1, 0.3))
        try:
            orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            return
    pytest.fail("200 rounds of killing naive writers never tore the file")
