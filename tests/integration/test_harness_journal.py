"""The journal's scenarios end to end: `harness run crash resume-events --quick` with real
processes; taskmaster holds (the crash run with its journal checked), each baseline shows its
anomaly, and the kept run replays to the same verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.events_check import SSE_CHANNEL
from harness.history import OBSERVE, read_history
from harness.journal_check import JOURNAL_CHANNEL
from harness.processes import pids_mentioning

pytestmark = pytest.mark.slow

_SCRIPT = Path(sys.executable).parent / "harness"
HARNESS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "harness.cli"]


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *args], capture_output=True, text=True, timeout=300)


def test_crash_and_resume_events_hold_and_their_baselines_fail(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["crash", "resume-events", "--quick", "--json", "--seed", "7", "--run-dir"]
    done = _harness("run", *args, str(run_dir))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert pids_mentioning(str(run_dir)) == []
    rows = {(r["scenario"], r["target"]): r for r in json.loads(done.stdout)["rows"]}
    assert rows[("crash", "safe")]["verdict"] == "holds"
    assert "journal-agrees" in rows[("crash", "safe")]["checked"]
    assert rows[("crash", "baseline")]["verdict"] == "reproduced"
    assert rows[("resume-events", "safe")]["verdict"] == "holds"
    assert rows[("resume-events", "baseline")]["verdict"] == "reproduced"
    assert rows[("resume-events", "baseline")]["figures"]["anomalies"]["event-lost"] > 0

    # the crash run's journal was really read, and held the run's writes
    (journal,) = [
        op
        for op in read_history(run_dir / "crash" / "safe")
        if op.kind == OBSERVE and op.channel == JOURNAL_CHANNEL
    ]
    assert len(journal.value["entries"]) >= 3

    # the clients were really cut off, and each got every commit
    clients = [
        op.value
        for op in read_history(run_dir / "resume-events" / "safe")
        if op.kind == OBSERVE and op.channel == SSE_CHANNEL
    ]
    assert len(clients) == 4
    assert sum(c["connections"] for c in clients) > len(clients)
    for client in clients:
        assert [r for r, _ in client["deliveries"]] == client["committed"]
        assert len(client["committed"]) >= 40

    replay = _harness("replay", str(run_dir), "--json")
    assert replay.returncode == 0, replay.stdout[-2000:]
    again = json.loads(replay.stdout)["rows"]
    replayed = {(r["scenario"], r["target"]): r["verdict"] for r in again}
    assert replayed == {key: row["verdict"] for key, row in rows.items()}
