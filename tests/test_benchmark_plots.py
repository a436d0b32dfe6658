"""Charting saved results: which figures a chart takes, and a bad results file refused clearly.

The drawing itself needs matplotlib, which only `make bench` installs; what it is given is
plain data, checked here."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from benchmarks.__main__ import main
from benchmarks.plots import case_label, rates, serve_writes_rates


def test_a_case_loses_only_what_every_case_shares() -> None:
    assert case_label("tm serve, 8 clients, 100 tasks") == "tm serve"
    assert (
        case_label("tm serve, TM_REFERENCE_LOCK=0, 8 clients, 100 tasks")
        == "tm serve, TM_REFERENCE_LOCK=0"
    )
    assert case_label("sqlite bare, 8 processes, no HTTP, 100 tasks") == "sqlite bare"
    assert case_label("tm serve (PostgreSQL), 8 clients, 100 tasks") == "tm serve (PostgreSQL)"
    assert case_label("cached, 100 tasks, 49899 B") == "cached"


def test_the_throughput_chart_takes_each_case_once_and_no_latency_row() -> None:
    results = [
        {
            "benchmark": "serve_writes",
            "case": "tm serve, 8 clients, 100 tasks",
            "requests_per_s": 5.0,
        },
        {
            "benchmark": "serve_writes",
            "case": "tm serve, TM_REFERENCE_LOCK=0, 8 clients, 100 tasks",
            "requests_per_s": 6.0,
        },
        {"benchmark": "serve_writes", "case": "sequential set-status, 100 tasks", "median": 2.0},
        {"benchmark": "api", "case": "cached, 8 clients", "requests_per_s": 9.0},
    ]
    assert serve_writes_rates(results) == {"tm serve": 5.0, "tm serve, TM_REFERENCE_LOCK=0": 6.0}
    assert rates(results, "api") == {"cached": 9.0}


def test_plot_refuses_a_file_without_results(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(SystemExit, match="cannot read results from"):
        main(["plot", str(missing), "--into", str(tmp_path)])
    not_results = tmp_path / "other.json"
    not_results.write_bytes(orjson.dumps({"something": "else"}))
    with pytest.raises(SystemExit, match="holds no results"):
        main(["plot", str(not_results), "--into", str(tmp_path)])
    assert not any(tmp_path.glob("*.png"))


def test_plot_without_the_results_argument_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["plot", "--into", "x"])
    assert exited.value.code == 2
    assert "results" in capsys.readouterr().err
