"""The claim scenarios end to end: `harness run double-claim zombie-claimant` (and their
PostgreSQL twins) with real agent processes on every front end; taskmaster must hold every claim
invariant with the race really run, the baselines must show their double claims and the
zombie's write; the kept run replays to the same verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import postgres_server as pg
from harness.claims_check import CLAIMS
from harness.history import read_history
from harness.processes import pids_mentioning
from harness.targets import BASELINE, SAFE

pytestmark = pytest.mark.slow

_SCRIPT = Path(sys.executable).parent / "harness"
HARNESS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "harness.cli"]


def harness_run(run_dir: Path, *names: str, seed: int = 5) -> dict[tuple[str, str], Any]:
    args = ["run", *names, "--quick", "--json", "--seed", str(seed), "--run-dir", str(run_dir)]
    done = subprocess.run(
        [*HARNESS, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert pids_mentioning(str(run_dir)) == []  # nothing of the run is still running
    return {(r["scenario"], r["target"]): r for r in json.loads(done.stdout)["rows"]}


def check_double_claim(rows: dict[tuple[str, str], Any], run_dir: Path, name: str) -> None:
    safe, baseline = rows[(name, SAFE)], rows[(name, BASELINE)]
    assert safe["verdict"] == "holds", safe
    assert safe["figures"]["anomalies"] == {}
    assert {"one-claim-holder", "worked-once", "releases-recorded", "tokens-increase"} <= set(
        safe["checked"]
    )
    assert baseline["verdict"] == "reproduced", baseline
    assert baseline["figures"]["anomalies"]["double-claim"] > 0
    (note,) = [n for n in safe["notes"] if "claims acknowledged" in n]
    # every front end took part, and every task of the pool was done by the claims
    for channel in ("cli", "api", "mcp"):
        assert f" via {channel}" in note and f"0 via {channel}" not in note, note
    tasks = int(note.rsplit("; ", 1)[-1].split("/")[1].split()[0])
    assert f"{tasks}/{tasks} tasks done" in note, note
    # the final document's claims, recorded for the checker: one released claim per task
    ops = read_history(run_dir / name / SAFE)
    (record,) = [op for op in ops if op.kind == CLAIMS]
    histories = [state["claimHistory"] for state in record.value["tasks"].values()]
    assert all(len(h) == 1 and h[0]["outcome"] == "released" for h in histories), histories
    tokens = sorted(h[0]["token"] for h in histories)
    assert tokens == list(range(1, len(tokens) + 1))


def check_zombie(rows: dict[tuple[str, str], Any], name: str) -> None:
    safe, baseline = rows[(name, SAFE)], rows[(name, BASELINE)]
    assert safe["verdict"] == "holds", safe
    assert baseline["verdict"] == "reproduced", baseline
    assert baseline["figures"]["anomalies"].get("holder-work-lost") == 1
    (refused,) = [n for n in safe["notes"] if "wrote with token 1: refused (" in n]
    assert "ClaimLost" in refused or "claim-lost" in refused, refused
    assert any("(B's work)" in n for n in safe["notes"]), safe["notes"]
    assert any("without token 1: acknowledged: it landed" in n for n in baseline["notes"])
    assert any("(A's work)" in n for n in baseline["notes"]), baseline["notes"]
    for row in (safe, baseline):
        assert any("SIGSTOPped" in n and "(token 2)" in n for n in row["notes"]), row["notes"]


def test_claims_hold_on_taskmaster_and_the_baselines_fail(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    rows = harness_run(run_dir, "double-claim", "zombie-claimant")
    check_double_claim(rows, run_dir, "double-claim")
    check_zombie(rows, "zombie-claimant")
    replay = subprocess.run(
        [*HARNESS, "replay", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert replay.returncode == 0, replay.stdout[-2000:]
    replayed = {(r["scenario"], r["target"]): r for r in json.loads(replay.stdout)["rows"]}
    assert {k: r["figures"]["anomalies"] for k, r in replayed.items()} == {
        k: r["figures"]["anomalies"] for k, r in rows.items()
    }


def test_claims_hold_on_postgres(tmp_path: Path) -> None:
    if pg.postgres_bindir() is None:
        if pg.postgres_required():
            pytest.fail(f"{pg.MISSING}, and {pg.REQUIRE_ENV}=1 requires it")
        pytest.skip(f"{pg.MISSING}; set {pg.REQUIRE_ENV}=1 to fail instead")
    run_dir = tmp_path / "run"
    rows = harness_run(run_dir, "double-claim-postgres", "zombie-claimant-postgres", seed=9)
    check_double_claim(rows, run_dir, "double-claim-postgres")
    check_zombie(rows, "zombie-claimant-postgres")
    assert not list(run_dir.rglob("tasks.json"))  # the projects are in the database
