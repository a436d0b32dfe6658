"""Claims on every backend: processes racing for work each get their own task, tokens grow with
the commits, and the storage's clock decides leases."""

from __future__ import annotations

import time

import orjson
import pytest

from taskmaster.commands import ClaimTask, ReleaseClaim, UpdateTask
from taskmaster.core import TaskMaster
from taskmaster.errors import ClaimLost
from taskmaster.model import Document, TaskId
from taskmaster.ops.claims import seconds_of
from taskmaster.storage.base import Draft
from tests.contract.backends import Backend
from tests.contract.test_contract_sharing import HANG_DEADLINE, spawn

AGENTS = 4
POOL = 40

CLAIMER = """
import sys
import orjson
{opener}
from taskmaster.commands import ClaimTask, ReleaseClaim
from taskmaster.core import TaskMaster
core = TaskMaster(storage)
agent = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()  # every agent starts at once
while True:
    commit = core.execute(ClaimTask(agent=agent, lease=60.0))
    claim = commit.result["claim"]
    if claim is None:
        break
    print(orjson.dumps({{"id": claim["id"], "token": claim["token"], "revision": commit.revision}})
          .decode(), flush=True)
    core.execute(ReleaseClaim(token=claim["token"], status="done"))
"""


def pool_document(size: int) -> Document:
    tasks = [
        {"id": n, "title": f"work {n}", "status": "pending", "dependencies": [], "subtasks": []}
        for n in range(1, size + 1)
    ]
    return Document({"master": {"tasks": tasks, "metadata": {}}})


@pytest.mark.slow
def test_agents_racing_in_processes_each_get_their_own_tasks(backend: Backend) -> None:
    if not backend.processes:
        pytest.skip(f"{backend.name}: one process only")
    store = backend.make(pool_document(POOL))
    script = CLAIMER.format(opener=backend.opener(store))
    agents = [spawn(script, f"agent-{n}") for n in range(AGENTS)]
    claims: list[dict] = []
    try:
        for agent in agents:
            assert agent.stdout is not None and agent.stdout.readline().strip() == "ready"
        for agent in agents:
            assert agent.stdin is not None
            agent.stdin.write("go\n")
            agent.stdin.flush()
        for agent in agents:
            out, _ = agent.communicate(timeout=HANG_DEADLINE)
            assert agent.returncode == 0
            claims += [orjson.loads(line) for line in out.splitlines() if line]
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
    # Every task claimed exactly once, by one agent, and every one released as done.
    assert sorted(int(claim["id"]) for claim in claims) == list(range(1, POOL + 1))
    by_revision = sorted(claims, key=lambda claim: claim["revision"])
    tokens = [claim["token"] for claim in by_revision]
    assert tokens == sorted(set(tokens)), "tokens must grow with the commits that issued them"
    document = store.read().document
    for task in document.tasks("master"):
        assert task["status"] == "done"
        assert "claim" not in task["metadata"]
        [ended] = task["metadata"]["claimHistory"]
        assert ended["outcome"] == "released" and ended["status"] == "done"


def test_a_claim_survives_reopening_and_fences_writes_on_another_handle(backend: Backend) -> None:
    store = backend.make(pool_document(3))
    first = TaskMaster(store)
    claim = first.execute(ClaimTask(agent="a", id=TaskId(2), lease=60.0)).result["claim"]
    other = TaskMaster(backend.reopen(store))
    assert [each["token"] for each in other.claims().value] == [claim["token"]]
    other.execute(UpdateTask(id=TaskId(2), fields={"details": "a's"}), claim=claim["token"])
    with pytest.raises(ClaimLost):
        other.execute(UpdateTask(id=TaskId(3), fields={"details": "x"}), claim=claim["token"])
    other.execute(ReleaseClaim(token=claim["token"]))
    with pytest.raises(ClaimLost, match="released"):
        first.execute(UpdateTask(id=TaskId(2), fields={"details": "late"}), claim=claim["token"])
    assert first.show("2").value[0]["details"] == "a's"


def test_the_storage_clock_is_now_and_a_transaction_reads_the_same_clock(backend: Backend) -> None:
    store = backend.make()
    before = time.time()
    outside = store.clock()
    seen: list[float] = []

    def look(draft: Draft) -> None:
        seen.append(draft.clock())
        seen.append(draft.clock())

    store.transact(look)
    after = time.time()
    # One machine here: the server's clock (for a database) reads within a second of ours.
    assert before - 1 <= outside <= seen[0] <= seen[1] <= after + 1


def test_a_lease_is_stamped_by_the_storage_clock(backend: Backend) -> None:
    store = backend.make(pool_document(1))
    core = TaskMaster(store)
    before = store.clock()
    claim = core.execute(ClaimTask(agent="a", lease=30.0)).result["claim"]
    after = store.clock()
    claimed_at, expires_at = seconds_of(claim["claimedAt"]), seconds_of(claim["expiresAt"])
    assert claimed_at is not None and expires_at is not None
    assert before - 0.001 <= claimed_at <= after + 0.001
    assert expires_at - claimed_at == pytest.approx(30.0, abs=0.002)
