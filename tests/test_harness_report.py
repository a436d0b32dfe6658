"""Verdicts and exit code on crafted histories: a baseline that holds fails the run."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from harness import report
from harness.cli import main, target_folders
from harness.history import FINAL, INITIAL, META, WRITE, HistoryWriter
from harness.progress import Progress

MS = 1_000_000


def record_run(
    folder: Path,
    scenario: str,
    target: str,
    *,
    lose: bool,
    expected: str = "lost-update",
    error: str | None = None,
) -> Path:
    """A minimal recorded history: one acknowledged write, and a final file that keeps it or
    not."""
    path = folder / scenario / target
    with HistoryWriter.in_dir(path, "harness") as history:
        history.record(INITIAL, start=0, value={"task/1": {"status": "pending"}})
        history.record(
            WRITE, start=10 * MS, end=20 * MS, key="task/1", value={"status": "done"}, channel="cli"
        )
        status = "pending" if lose else "done"
        final = {"parses": True, "tasks": {"1": {"status": status}}, "titles": []}
        history.record(FINAL, start=30 * MS, value=final)
        meta: dict[str, Any] = {
            "scenario": scenario,
            "target": target,
            "invariants": ["acknowledged-writes-present", "file-parses"],
            "baseline_expected": expected,
            "notes": [f"{target} note"],
        }
        if error:
            meta["error"] = error
        history.record(META, start=0, value=meta)
    return path


def test_safe_holding_and_baseline_reproducing_passes(tmp_path: Path) -> None:
    rows = [
        report.evaluate(record_run(tmp_path, "s", "baseline", lose=True)),
        report.evaluate(record_run(tmp_path, "s", "safe", lose=False)),
    ]
    assert [row.verdict for row in rows] == [report.REPRODUCED, report.HOLDS]
    assert report.exit_code(rows) == 0
    assert rows[0].figures["lost_updates"] == 1


def test_a_baseline_that_unexpectedly_holds_fails_the_run(tmp_path: Path) -> None:
    rows = [
        report.evaluate(record_run(tmp_path, "s", "baseline", lose=False)),
        report.evaluate(record_run(tmp_path, "s", "safe", lose=False)),
    ]
    assert rows[0].verdict == report.NOT_REPRODUCED
    assert not rows[0].passed
    assert report.exit_code(rows) == 1
    assert "proved nothing" in report.failures(rows)


def test_a_baseline_showing_another_anomaly_than_expected_is_not_reproduced(
    tmp_path: Path,
) -> None:
    row = report.evaluate(record_run(tmp_path, "s", "baseline", lose=True, expected="stale-read"))
    assert row.verdict == report.NOT_REPRODUCED
    assert report.exit_code([row]) == 1


def test_a_violated_safe_row_fails_the_run_and_shows_its_context(tmp_path: Path) -> None:
    rows = [
        report.evaluate(record_run(tmp_path, "s", "baseline", lose=True)),
        report.evaluate(record_run(tmp_path, "s", "safe", lose=True)),
    ]
    assert rows[1].verdict == report.VIOLATED
    assert report.exit_code(rows) == 1
    text = report.failures(rows)
    assert "s/safe: VIOLATED (lost-update x1)" in text
    assert '"value": {"status": "done"}' in text  # the lost write, with its context


def test_a_runner_error_fails_the_row(tmp_path: Path) -> None:
    row = report.evaluate(record_run(tmp_path, "s", "safe", lose=False, error="Boom: no"))
    assert row.verdict == report.ERROR
    assert report.exit_code([row]) == 1


def test_no_rows_is_a_failure() -> None:
    assert report.exit_code([]) == 1


def test_table_and_json_carry_the_figures(tmp_path: Path) -> None:
    rows = [
        report.evaluate(record_run(tmp_path, "s", "baseline", lose=True)),
        report.evaluate(record_run(tmp_path, "s", "safe", lose=False)),
    ]
    table = report.table(rows)
    assert "reproduced (lost-update x1)" in table
    assert "checked: acknowledged-writes-present, file-parses" in table
    assert "safe: safe note" in table
    data = json.loads(report.as_json(rows, seed=7))
    assert data["ok"] is True and data["seed"] == 7
    assert [(r["target"], r["passed"]) for r in data["rows"]] == [
        ("baseline", True),
        ("safe", True),
    ]
    assert data["rows"][0]["violations"][0]["anomaly"] == "lost-update"


def test_replay_re_checks_a_recorded_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    record_run(tmp_path, "s", "baseline", lose=True)
    record_run(tmp_path, "s", "safe", lose=False)
    (tmp_path / "run.json").write_text(
        json.dumps({"scenarios": ["s"], "targets": ["baseline", "safe"]})
    )
    assert [p.name for p in target_folders(tmp_path)] == ["baseline", "safe"]
    assert main(["replay", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in data["rows"]] == ["reproduced", "holds"]
    record_run(tmp_path / "other", "s", "safe", lose=True)
    assert main(["replay", str(tmp_path / "other" / "s" / "safe")]) == 1


def test_replay_of_a_folder_without_history(tmp_path: Path) -> None:
    assert main(["replay", str(tmp_path)]) == 2


def test_replay_table_explains_itself(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    record_run(tmp_path, "s", "baseline", lose=True)
    record_run(tmp_path, "s", "safe", lose=False)
    assert main(["replay", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert '"reproduced" there is the expected outcome' in out
    for column in ("ops", "lost", "stale", "torn", "ms", "checked"):
        assert f"\n  {column} " in out, column


def test_progress_never_repeats_the_same_counts() -> None:
    stream = io.StringIO()
    progress = Progress("s/safe", stream)
    progress.update(3, 10, 20, force=True)
    # The monitor's last tick and the runner's closing forced update see the same counts.
    progress.update(3, 10, 20, force=True)
    progress.update(4, 20, 20, force=True)
    assert stream.getvalue().splitlines() == [
        "s/safe: 3 processes started, 10/20 operations done",
        "s/safe: 4 processes started, 20/20 operations done",
    ]
