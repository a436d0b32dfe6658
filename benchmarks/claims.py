"""Claims: `claim --next` latency by project size, and claims/s of contending agent processes.

Both on the file backend (a task file, as `tm init` leaves it) and on PostgreSQL (a cluster the
benchmark starts itself, fsync and synchronous_commit on, as the other benchmarks have it).

- claim --next: one `ClaimTask(agent, lease)` through the `TaskMaster` facade in this one
  long-lived process, at 100 and at 10,000 tasks. Every sample claims the task `next` picks and
  the claim is then released with the task set back to pending, outside the timed part, so that
  every sample claims in the same project. The two sizes are measured alternately, one claim on
  each in turn, so that a slow moment of the machine slows both alike and the ratio of 10,000
  to 100 tasks compares samples taken milliseconds apart.
- 8 agents: 8 processes, each with its own facade, loop claim --next -> release (status done)
  for a fixed time over a pool of ready tasks (no dependencies, no subtasks). The same run
  checks the outcome: every claim an agent was given and every claim the final document
  records (the tasks' `metadata.claimHistory`), so a task given to two agents, a claim the
  document lost, or a task left undone is counted in the row, not assumed away.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.data import synthetic_document
from benchmarks.fanout import run_together
from benchmarks.project import POSTGRES_DURABILITY, create_project, postgres_cluster
from benchmarks.project import postgres_project as new_postgres_project
from benchmarks.stats import summarise
from harness.postgres_server import PostgresServer
from taskmaster.commands.claims import ClaimTask, ReleaseClaim
from taskmaster.compose import Settings, open_project, open_storage
from taskmaster.core import TaskMaster
from taskmaster.model import DEFAULT_TAG, Document
from taskmaster.ops.claims import CLAIM_KEY, HISTORY_KEY

NAME = "claims"
SIZES = (100, 10000)
AGENTS = 8
POOL = 1000
"""Ready tasks the agents race for: more than they can finish in the time measured, so that
every agent is busy claiming until the clock stops."""
LEASE = 600.0
"""Long enough that no claim expires during a run: an expiry would make a task claimable
again and blur what a double claim is."""
BACKENDS = ("file", "postgresql")
GATED_SIZE = 10000
TARGET_RATIO_TO_100_TASKS = 40.0
"""PostgreSQL claim --next at GATED_SIZE tasks <= this x its cost at 100 tasks, same run.
Choosing the task is a pass over the tag (`next`, the live claims, the highest token), so a
claim grows with the project where a set-status does not; what must not happen is a claim
that writes more than the task it claims."""
START_TIMEOUT = 60.0
ROUNDS = 2
"""Rounds of the contention measure per backend, the backends taking turns."""
DESCRIPTION = (
    "claim --next latency at 100 and 10,000 tasks (one process, the facade) and claims/s of "
    f"{AGENTS} agent processes claiming and releasing over {POOL:,} ready tasks, double claims "
    f"counted; file (fsync before rename) and PostgreSQL ({POSTGRES_DURABILITY})"
)


# documents -----------------------------------------------------------------------------------
def ready_pool(tasks: int) -> Document:
    """`tasks` pending tasks with no dependencies and no subtasks: every one is ready, so
    `next` always has one to give until all are done."""
    document = synthetic_document(tasks)
    for task in document.tasks(DEFAULT_TAG):
        task["dependencies"] = []
        task["subtasks"] = []
    return document


# one process, growing project ----------------------------------------------------------------
def claim_sample(facade: TaskMaster, agent: str) -> float:
    """Claim the next task (timed, in ms), then release it and set it back to pending
    (untimed), so that the next sample claims in the same project again."""
    start = time.perf_counter()
    answer = facade.execute(ClaimTask(agent=agent, lease=LEASE)).result
    elapsed = (time.perf_counter() - start) * 1000
    claim = answer["claim"]
    if claim is None:
        raise RuntimeError("claim --next found nothing to claim: it would time a no-op")
    facade.execute(ReleaseClaim(token=claim["token"], status="pending"))
    return elapsed


def alternate(facades: dict[int, TaskMaster], rounds: int) -> dict[int, list[float]]:
    """`rounds` times, one claim --next sample on every size in turn; ms per size."""
    samples: dict[int, list[float]] = {size: [] for size in facades}
    for _ in range(rounds):
        for size, facade in facades.items():
            samples[size].append(claim_sample(facade, "bench"))
    return samples


@contextlib.contextmanager
def _locations(
    backend: str,
    server: PostgresServer | None,
    sizes: tuple[int, ...],
    *,
    document: Callable[[int], Document] = synthetic_document,
) -> Iterator[dict[int, str]]:
    """A new project per size on the backend: a project directory, or a PostgreSQL URL."""
    with tempfile.TemporaryDirectory(prefix="tm-bench-") as scratch:
        locations: dict[int, str] = {}
        for size in sizes:
            if backend == "postgresql":
                assert server is not None
                locations[size] = new_postgres_project(server, document(size), f"claims{size}")
            else:
                root = Path(scratch) / f"p{size}"
                root.mkdir()
                create_project(root, document(size))
                locations[size] = str(root)
        yield locations


def open_facade(backend: str, location: str) -> TaskMaster:
    """The facade a long-lived process (a server, an agent) holds on the project."""
    if backend == "postgresql":
        return TaskMaster(open_storage(location, Settings()))
    return open_project(Path(location)).core


def latency_samples(
    backend: str, server: PostgresServer | None, rounds: int, warm_up: int
) -> dict[int, list[float]]:
    with _locations(backend, server, SIZES) as locations:
        facades = {size: open_facade(backend, location) for size, location in locations.items()}
        try:
            alternate(facades, warm_up)  # connections, statements and kept documents
            return alternate(facades, rounds)
        finally:
            for facade in facades.values():
                facade.close()


def latency_rows(backend: str, samples: dict[int, list[float]]) -> list[dict[str, Any]]:
    """A row per size; each with its median over the 100-task median of the same run."""
    base = statistics.median(samples[min(samples)])
    rows = []
    for size, values in sorted(samples.items()):
        rows.append(
            {
                "benchmark": NAME,
                "case": f"{backend} claim --next, {size} tasks, one process",
                "backend": backend,
                "measure": "claim --next",
                "tasks": size,
                **summarise(values),
                "ratio_to_100_tasks": statistics.median(values) / base,
            }
        )
        if backend == "postgresql" and size == GATED_SIZE:
            rows[-1]["target_ratio_to_100_tasks"] = TARGET_RATIO_TO_100_TASKS
    return rows


# contending agents ---------------------------------------------------------------------------
def _agent(
    backend: str, location: str, name: str, seconds: float, barrier: Any, results: Any
) -> None:
    """Claim --next and release (done) for `seconds` after the barrier; reports what it was
    given: (name, [(task id, token)...], releases, failures, exhausted, seconds), or
    (name, error) when the project cannot even be opened."""
    try:
        facade = open_facade(backend, location)
        facade.list_tasks()  # connected and the document loaded before the clock starts
    except Exception as err:  # reported, so that the run stops with the reason at once
        results.put((name, f"{type(err).__name__}: {err}"))
        barrier.abort()
        return
    claimed: list[tuple[str, int]] = []
    released = failed = 0
    exhausted = False
    try:
        barrier.wait(timeout=START_TIMEOUT)
        start = time.monotonic()
        end = start + seconds
        now = start
        # Bounded by the clock: a failed claim or release is counted and the loop goes on.
        while now < end:
            try:
                claim = facade.execute(ClaimTask(agent=name, lease=LEASE)).result["claim"]
            except Exception:  # LockTimeout, a lost connection...
                failed += 1
            else:
                if claim is None:
                    exhausted = True
                    break
                claimed.append((claim["id"], claim["token"]))
                try:
                    facade.execute(ReleaseClaim(token=claim["token"], status="done"))
                except Exception:  # ClaimLost: someone else holds it now
                    failed += 1
                else:
                    released += 1
            now = time.monotonic()
    finally:
        facade.close()
    results.put((name, claimed, released, failed, exhausted, now - start))


def audit(data: dict[str, Any], given: list[tuple[str, int]]) -> dict[str, int]:
    """What the final document (`data`, the task file's JSON) and the claims the agents were
    given (task id, token) say about a run.

    - claims: claims the agents were given; recorded: claims the document records (ended in
      a task's claimHistory, or still live in its claim);
    - double_claims: claims of a task beyond its first, by either account (two agents given
      one task, or the document recording it claimed twice);
    - unrecorded: tokens an agent was given that the document does not record anywhere;
    - duplicate_tokens: tokens given more than once (a token is never reused);
    - tasks_done: tasks whose status is done.
    """
    recorded: Counter[str] = Counter()
    tokens: set[int] = set()
    done = 0
    for task in data[DEFAULT_TAG]["tasks"]:
        if task.get("status") == "done":
            done += 1
        metadata = task.get("metadata")
        if not isinstance(metadata, dict):
            continue
        entries = [e for e in metadata.get(HISTORY_KEY) or () if isinstance(e, dict)]
        if isinstance(metadata.get(CLAIM_KEY), dict):
            entries.append(metadata[CLAIM_KEY])
        recorded[str(task["id"])] += len(entries)
        tokens.update(e["token"] for e in entries if type(e.get("token")) is int)
    given_per_task = Counter(task_id for task_id, _token in given)
    given_tokens = Counter(token for _task_id, token in given)
    return {
        "claims": len(given),
        "recorded": sum(recorded.values()),
        "double_claims": sum(
            max(0, max(recorded[task_id], given_per_task[task_id]) - 1)
            for task_id in recorded.keys() | given_per_task.keys()
        ),
        "unrecorded": sum(1 for token in given_tokens if token not in tokens),
        "duplicate_tokens": sum(count - 1 for count in given_tokens.values()),
        "tasks_done": done,
    }


def _final_data(backend: str, location: str) -> dict[str, Any]:
    facade = open_facade(backend, location)
    try:
        return facade.snapshot().document.data
    finally:
        facade.close()


def contend(backend: str, server: PostgresServer | None, seconds: float) -> dict[str, Any]:
    """AGENTS processes claiming and releasing over a fresh pool for `seconds`; the figures
    and the audit of the final document."""
    with _locations(backend, server, (POOL,), document=ready_pool) as locations:
        location = locations[POOL]
        names = [f"agent-{i}" for i in range(1, AGENTS + 1)]
        reports = run_together(
            _agent,
            [(backend, location, name, seconds) for name in names],
            timeout=START_TIMEOUT + seconds + 60,
            failed_to_start=f"a {backend} agent could not open the project",
        )
        data = _final_data(backend, location)
    given = [claim for report in reports for claim in report[1]]
    elapsed = max(report[5] for report in reports)
    return {
        "n": len(given),
        **audit(data, given),
        "released": sum(report[2] for report in reports),
        "failed": sum(report[3] for report in reports),
        "pool_exhausted": any(report[4] for report in reports),
        "seconds": elapsed,
        "claims_per_s": len(given) / elapsed,
        "per_agent": sorted(len(report[1]) for report in reports),
    }


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of one backend as one figure: claims/s is every claim over all the time
    measured; every count is the sum, so one round's double claim is the row's."""
    counted = (
        "n",
        "claims",
        "recorded",
        "double_claims",
        "unrecorded",
        "duplicate_tokens",
        "tasks_done",
        "released",
        "failed",
    )
    combined: dict[str, Any] = {key: sum(part[key] for part in parts) for key in counted}
    seconds = sum(part["seconds"] for part in parts)
    combined.update(
        seconds=seconds,
        claims_per_s=combined["claims"] / seconds,
        pool_exhausted=any(part["pool_exhausted"] for part in parts),
        rounds=len(parts),
        round_claims_per_s=[part["claims_per_s"] for part in parts],
        per_agent=[part["per_agent"] for part in parts],
    )
    return combined


def case_name(backend: str) -> str:
    return f"{AGENTS} agents, {backend}: claim --next -> release done, {POOL} ready tasks"


def contention_row(backend: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "benchmark": NAME,
        "case": case_name(backend),
        "backend": backend,
        "measure": "claims/s",
        "agents": AGENTS,
        "tasks": POOL,
        **figures,
    }


def run(*, quick: bool = False) -> list[dict[str, object]]:
    seconds = 1.5 if quick else 4.0
    rows: list[dict[str, Any]] = []
    with postgres_cluster(NAME) as server:
        backends = [b for b in BACKENDS if b != "postgresql" or server is not None]
        for backend in backends:
            rounds, warm_up = (12, 2) if backend == "file" else (40, 5)
            samples = latency_samples(backend, server, rounds if quick else rounds * 4, warm_up)
            rows += latency_rows(backend, samples)
        # The backends take turns, ROUNDS times, each round on a fresh pool: a busy moment of
        # the machine then slows a round of each rather than the whole of one's figure.
        parts: dict[str, list[dict[str, Any]]] = {backend: [] for backend in backends}
        for _ in range(ROUNDS):
            for backend in backends:
                parts[backend].append(contend(backend, server, seconds))
        rows += [contention_row(backend, combine(parts[backend])) for backend in backends]
    return rows
