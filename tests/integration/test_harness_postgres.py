"""The PostgreSQL scenarios end to end: `harness run` on a cluster of its own (initdb on a free
port, never the system server), both targets, verdicts, what the notes say happened, replay,
nothing left running; and the pieces they stand on (the naive database store, a project that
cannot be read because the server is away)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import postgres_server as pg
from harness.actors import target_state
from harness.baseline import NaiveCore, NaiveDbStore, set_status
from harness.processes import pids_mentioning
from harness.targets import BASELINE, SAFE, Target

pytestmark = pytest.mark.slow

_SCRIPT = Path(sys.executable).parent / "harness"
HARNESS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "harness.cli"]


@pytest.fixture
def postgres_installed() -> None:
    if pg.postgres_bindir() is None:
        if pg.postgres_required():
            pytest.fail(f"{pg.MISSING}, and {pg.REQUIRE_ENV}=1 requires it")
        pytest.skip(f"{pg.MISSING}; set {pg.REQUIRE_ENV}=1 to fail instead")


def harness_run(run_dir: Path, *args: str, timeout: float = 300) -> dict[str, Any]:
    done = subprocess.run(
        [*HARNESS, "run", *args, "--quick", "--json", "--run-dir", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    data: dict[str, Any] = json.loads(done.stdout)
    assert pids_mentioning(str(run_dir)) == []  # nothing of the run is still running
    return data


def rows_of(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["scenario"], r["target"]): r for r in data["rows"]}


def meta_of(folder: Path) -> dict[str, Any]:
    for line in (folder / "history" / "harness.jsonl").read_text().splitlines():
        op = json.loads(line)
        if op["kind"] == "meta":
            value: dict[str, Any] = op["value"]
            return value
    raise AssertionError(f"no meta record in {folder}")


def test_postgres_outage_loses_nothing_and_everyone_recovers(
    tmp_path: Path, postgres_installed: None
) -> None:
    run_dir = tmp_path / "run"
    data = harness_run(run_dir, "postgres-outage", "--seed", "7")
    rows = rows_of(data)
    safe, baseline = rows[("postgres-outage", SAFE)], rows[("postgres-outage", BASELINE)]
    assert safe["verdict"] == "holds", safe
    assert baseline["verdict"] == "reproduced" and baseline["figures"]["stale_reads"] > 0
    assert safe["figures"]["lost_updates"] == safe["figures"]["stale_reads"] == 0
    assert "recovers" in safe["checked"]
    # the outage really happened and was survived: errors while away, counted, not failures
    away = next(n for n in safe["notes"] if n.startswith("in flight while PostgreSQL was away"))
    assert "errors then are expected" in away and " writes via " in away
    assert safe["figures"]["writes"]["ok"] > 0
    meta = meta_of(run_dir / "postgres-outage" / SAFE)
    recovery = meta["recovery"]
    assert recovery["server"] == "PostgreSQL" and recovery["instances"]
    assert all(s["seconds"] is not None for s in recovery["instances"].values()), recovery
    assert recovery["writers"] and all(
        s["seconds"] is not None and s["writes_after"] > 0 for s in recovery["writers"].values()
    ), recovery
    assert meta["storage"].startswith("postgresql://")
    # no task file anywhere: the project is in the database
    assert not list((run_dir / "postgres-outage").rglob("tasks.json"))

    replay = subprocess.run(
        [*HARNESS, "replay", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert replay.returncode == 0, replay.stdout[-2000:]
    replayed = rows_of(json.loads(replay.stdout))
    assert {k: r["verdict"] for k, r in replayed.items()} == {
        k: r["verdict"] for k, r in rows.items()
    }


def test_crash_and_multi_instance_on_postgres(tmp_path: Path, postgres_installed: None) -> None:
    run_dir = tmp_path / "run"
    data = harness_run(run_dir, "crash-postgres", "multi-instance-postgres", "--seed", "3")
    rows = rows_of(data)
    for scenario in ("crash-postgres", "multi-instance-postgres"):
        assert rows[(scenario, SAFE)]["verdict"] == "holds", rows[(scenario, SAFE)]
        assert rows[(scenario, BASELINE)]["verdict"] == "reproduced", rows[(scenario, BASELINE)]
    crash = rows[("crash-postgres", SAFE)]
    assert any(
        "postmaster SIGKILLed under the writers" in n and "the project reads" in n
        for n in crash["notes"]
    ), crash["notes"]
    assert any("row locked, no COMMIT: the project still reads" in n for n in crash["notes"])
    assert any(n.startswith("next write after the kill: ok") for n in crash["notes"])
    assert rows[("crash-postgres", BASELINE)]["figures"]["lost_updates"] > 0
    multi = rows[("multi-instance-postgres", SAFE)]
    assert any("no task file in any" in n and "no Redis" in n for n in multi["notes"]), multi
    instance_dirs = list((run_dir / "multi-instance-postgres" / SAFE).glob("instance-*"))
    assert len(instance_dirs) >= 2
    assert not list((run_dir / "multi-instance-postgres").rglob("tasks.json"))


# the pieces ----------------------------------------------------------------------------------


def _document(*ids: int) -> dict[str, Any]:
    tasks = [{"id": i, "title": f"t{i}", "status": "pending"} for i in ids]
    return {"master": {"tasks": tasks}}


def test_the_naive_database_store_loses_an_interleaved_update(postgres_url: str) -> None:
    first, second = NaiveDbStore(postgres_url), NaiveDbStore(postgres_url)
    first.create(_document(1, 2))
    # A reads, B reads, A writes, B writes: what the row lock of taskmaster prevents
    a, b = first.read(), second.read()
    set_status(1, "done")(a)
    set_status(2, "review")(b)
    first._write(a)
    second._write(b)
    statuses = {t["id"]: t["status"] for t in first.read()["master"]["tasks"]}
    assert statuses == {1: "pending", 2: "review"}  # A's acknowledged write is gone
    NaiveCore(postgres_url).set_status(1, "blocked")  # alone, a write goes through
    assert NaiveCore(postgres_url).show(1)["status"] == "blocked"


def test_a_target_on_postgres_names_its_url_and_no_task_file(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/db?project=p"
    safe, naive = Target(SAFE, tmp_path, url), Target(BASELINE, tmp_path, url)
    assert safe.cli("list")[1:] == ["--storage", url, "--project", str(tmp_path), "list"]
    assert naive.cli("list")[-3:] == ["--storage", url, "list"]
    assert safe.mcp_args()[-1] == "mcp" and url in safe.mcp_args()
    assert Target.from_dict(safe.to_dict()) == safe
    assert Target.from_dict(Target(SAFE, tmp_path).to_dict()).storage is None


@pytest.mark.parametrize("name", [SAFE, BASELINE])
def test_a_project_whose_server_is_away_is_unavailable_not_torn(
    tmp_path: Path, postgres_installed: None, name: str
) -> None:
    with pg.PostgresServer(durable=False) as server:
        url = f"{server.url}?project=p"
        target = Target(name, tmp_path, url)
        if name == SAFE:
            from taskmaster.compose import Settings, open_storage
            from taskmaster.model import Document
            from taskmaster.storage import ProjectState

            raw = json.dumps(_document(1)).encode()
            open_storage(url, Settings()).create(Document.from_json(raw), ProjectState())
        else:
            NaiveDbStore(url).create(_document(1))
        state = target_state(target)
        assert state["parses"] is True and state["tasks"]["1"]["status"] == "pending"
        server.kill()
        away = target_state(target)
        assert away["parses"] is None and away["unavailable"] is True, away
        server.restart()
        for _ in range(3):  # the first call may meet a connection that died with the server
            back = target_state(target)
            if back["parses"]:
                break
        assert back["parses"] is True and back["tasks"] == state["tasks"]
