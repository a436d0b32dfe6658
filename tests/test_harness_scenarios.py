"""The scenario files load, name real runners and invariants, and take --quick and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checker import INVARIANT_ANOMALIES
from harness.cli import main
from harness.runners import RUNNERS
from harness.scenarios import SCENARIO_DIR, ScenarioError, load, load_all, merge, override, select

EXPECTED = [
    "lost-update",
    "stale-cache",
    "multi-instance",
    "crash",
    "external-edit",
    "corrupt-file",
    "lock-holder-dies",
    "rate-limit",
]


@pytest.mark.parametrize("quick", [False, True])
def test_every_scenario_of_the_issue_is_there_in_order(quick: bool) -> None:
    scenarios = load_all(quick=quick)
    assert [s.name for s in scenarios] == EXPECTED
    for scenario in scenarios:
        assert scenario.kind in RUNNERS
        assert scenario.summary
        assert scenario.actors, f"{scenario.name} declares no actors"
        expected = scenario.baseline_expected
        assert any(expected in INVARIANT_ANOMALIES[name] for name in scenario.invariants), (
            f"{scenario.name}: the baseline's expected {expected} is not among the anomalies "
            "its invariants check"
        )


def test_quick_is_smaller() -> None:
    full = {s.name: s for s in load_all()}
    quick = {s.name: s for s in load_all(quick=True)}
    assert quick["lost-update"].param("storm", "ops") < full["lost-update"].param("storm", "ops")
    assert quick["crash"].params["kills"] < full["crash"].params["kills"]
    assert quick["lost-update"].params["forced"] == full["lost-update"].params["forced"]


def test_overrides_reach_every_parameter_of_that_name() -> None:
    scenarios = {s.name: s for s in load_all(quick=True, overrides={"writers": 7, "ops": None})}
    assert scenarios["lost-update"].param("storm", "writers") == 7
    assert scenarios["multi-instance"].param("storm", "writers") == 7
    assert scenarios["crash"].params["writers"] == 7
    assert scenarios["lost-update"].param("storm", "ops") == 25  # None: not given


def test_merge_and_override_do_not_touch_their_inputs() -> None:
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    assert merge(base, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}, "d": 3}
    assert override(base, "b", 9) == {"a": {"b": 9, "c": 2}, "d": 3}
    assert base == {"a": {"b": 1, "c": 2}, "d": 3}


def test_select() -> None:
    scenarios = load_all()
    assert select(scenarios, ["all"]) == scenarios
    assert [s.name for s in select(scenarios, ["crash", "lost-update"])] == [
        "crash",
        "lost-update",
    ]
    with pytest.raises(ScenarioError, match="no-such"):
        select(scenarios, ["no-such"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nkind = "lost-update"\ninvariants = []\n', "baseline_expected"),
        (
            'name = "x"\nkind = "nope"\ninvariants = []\nbaseline_expected = "lost-update"\n',
            "no runner",
        ),
        (
            'name = "x"\nkind = "crash"\ninvariants = ["bogus"]\nbaseline_expected = "torn-file"\n',
            "unknown invariant",
        ),
        (
            'name = "x"\nkind = "crash"\ninvariants = []\nbaseline_expected = "meh"\n',
            "not an anomaly",
        ),
        ("name = ", "Invalid"),
    ],
)
def test_bad_scenario_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load(path)


def test_harness_list(capsys: pytest.CaptureFixture) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == EXPECTED


def test_unknown_scenario_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "no-such", "--quick"]) == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_a_run_folder_that_is_not_empty_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "old.jsonl").write_text("{}\n")
    assert main(["run", "rate-limit", "--run-dir", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_scenario_dir_is_the_repository_one() -> None:
    assert Path(__file__).resolve().parent.parent / "scenarios" == SCENARIO_DIR
