"""`harness run` end to end: real processes, both targets, verdicts, replay, nothing left over."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.processes import pids_mentioning

pytestmark = pytest.mark.slow

_SCRIPT = Path(sys.executable).parent / "harness"  # the installed console script
HARNESS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "harness.cli"]
DEADLINE = 240


def harness(*args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARNESS, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_quick_run_holds_on_taskmaster_and_reproduces_on_the_baseline(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = harness(
        "run",
        "lost-update",
        "stale-cache",
        "--quick",
        "--json",
        "--seed",
        "11",
        "--run-dir",
        str(run_dir),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(done.stdout)
    assert data["ok"] is True and data["seed"] == 11
    rows = {(r["scenario"], r["target"]): r for r in data["rows"]}
    assert set(rows) == {
        (s, t) for s in ("lost-update", "stale-cache") for t in ("safe", "baseline")
    }
    for (_, target), row in rows.items():
        if target == "safe":
            assert row["verdict"] == "holds", row
            assert row["figures"]["lost_updates"] == row["figures"]["stale_reads"] == 0
        else:
            assert row["verdict"] == "reproduced", row
            assert row["figures"]["anomalies"][row["baseline_expected"]] > 0
        assert row["figures"]["ops"] > 0
    assert rows[("lost-update", "baseline")]["figures"]["lost_updates"] >= 1
    assert rows[("stale-cache", "baseline")]["figures"]["stale_reads"] >= 1
    assert any(
        "could not read while A held the lock" in n for n in rows[("lost-update", "safe")]["notes"]
    )
    # progress on stderr
    progress = re.findall(
        r"lost-update/safe: \d+ processes started, \d+/\d+ operations done", done.stderr
    )
    assert progress and len(progress) == len(set(progress)), done.stderr  # never a line twice

    # nothing of the run is still running
    assert pids_mentioning(str(run_dir)) == []

    # the kept run replays to the same verdicts
    replay = harness("replay", str(run_dir), "--json", timeout=60)
    assert replay.returncode == 0, replay.stdout[-2000:]
    replayed = {(r["scenario"], r["target"]): r for r in json.loads(replay.stdout)["rows"]}
    assert {k: r["verdict"] for k, r in replayed.items()} == {
        k: r["verdict"] for k, r in rows.items()
    }
    assert {k: r["figures"]["anomalies"] for k, r in replayed.items()} == {
        k: r["figures"]["anomalies"] for k, r in rows.items()
    }
    history = run_dir / "lost-update" / "safe" / "history"
    assert (history / "harness.jsonl").exists() and len(list(history.glob("*.jsonl"))) > 3


def _run_folder(stderr: str) -> Path:
    match = re.search(r"run folder (\S+)", stderr)
    assert match, stderr
    return Path(match.group(1))


def test_an_unkept_run_leaves_no_folder_and_no_process() -> None:
    done = harness("run", "rate-limit", "--quick", "--seed", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rate-limit" in done.stdout and "all pass" in done.stdout
    # The output explains itself: the run folder's fate, the expected baseline verdict, columns.
    assert "removed at the end (--keep keeps it)" in done.stderr
    assert re.search(r"run folder \S+ removed$", done.stderr.strip())
    assert '"reproduced" there is the expected outcome' in done.stdout
    for column in ("ops ", "lost ", "stale ", "torn "):
        assert f"\n  {column}" in done.stdout, column
    folder = _run_folder(done.stderr)
    assert not folder.exists()
    assert pids_mentioning(str(folder)) == []


def _ctrl_c_as_in_a_terminal() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python keeps an inherited
    # "ignore": give the child the terminal's default so that the test does not depend on how
    # pytest itself was started.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_reaps_every_process_and_removes_the_run_folder() -> None:
    proc = subprocess.Popen(
        [*HARNESS, "run", "multi-instance", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )
    stderr = ""
    deadline = time.monotonic() + 60
    # wait until the writers are running, then interrupt
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        stderr += line
        if "processes started" in line or not line:
            break
    folder = _run_folder(stderr)
    assert pids_mentioning(str(folder)), "nothing was running yet"
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr + rest
    assert "interrupted" in rest
    time.sleep(0.2)
    assert pids_mentioning(str(folder)) == []
    assert not folder.exists()


def test_sigterm_is_handled_like_ctrl_c() -> None:
    proc = subprocess.Popen(
        [*HARNESS, "run", "crash", "--quick", "--seed", "5", "--only", "safe"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    stderr = ""
    while "SIGKILLs" not in stderr:
        line = proc.stderr.readline()
        if not line:
            break
        stderr += line
    folder = _run_folder(stderr)
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr + rest
    time.sleep(0.2)
    assert pids_mentioning(str(folder)) == []
    assert not folder.exists()
