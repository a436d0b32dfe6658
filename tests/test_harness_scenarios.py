"""The scenario files load, name real runners and invariants, and take --quick and overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import report
from harness.checker import INVARIANT_ANOMALIES
from harness.cli import main, run_one
from harness.progress import Progress
from harness.runners import RUNNERS, base, postgres_support
from harness.scenarios import SCENARIO_DIR, ScenarioError, load, load_all, merge, override, select
from harness.targets import TARGETS, Target

EXPECTED = [
    "lost-update",
    "stale-cache",
    "multi-instance",
    "crash",
    "external-edit",
    "corrupt-file",
    "lock-holder-dies",
    "rate-limit",
    "multi-instance-redis",
    "redis-outage",
    "mixed-frontends",
    "lost-update-postgres",
    "stale-cache-postgres",
    "multi-instance-postgres",
    "mixed-frontends-postgres",
    "crash-postgres",
    "postgres-outage",
    "double-claim",
    "zombie-claimant",
    "double-claim-postgres",
    "zombie-claimant-postgres",
    "resume-events",
    "reference-tool",
]
REDIS_SCENARIOS = ["rate-limit", "multi-instance-redis", "redis-outage"]
# each file scenario the issue names, and its PostgreSQL twin
POSTGRES_TWINS = {
    "lost-update": "lost-update-postgres",
    "stale-cache": "stale-cache-postgres",
    "multi-instance": "multi-instance-postgres",
    "mixed-frontends": "mixed-frontends-postgres",
    "crash": "crash-postgres",
    "double-claim": "double-claim-postgres",
    "zombie-claimant": "zombie-claimant-postgres",
}
CLAIM_SCENARIOS = ["double-claim", "zombie-claimant"]
POSTGRES_SCENARIOS = [*POSTGRES_TWINS.values(), "postgres-outage"]


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


def test_quick_redis_scenarios_stay_short() -> None:
    full = {s.name: s for s in load_all()}
    quick = {s.name: s for s in load_all(quick=True)}
    outage, quick_outage = full["redis-outage"].params, quick["redis-outage"].params
    timeline = ("before_ms", "outage_ms", "after_ms")
    assert sum(quick_outage[k] for k in timeline) < sum(outage[k] for k in timeline) <= 10_000
    assert quick["redis-outage"].param("storm", "writers") < outage["storm"]["writers"]
    assert quick["multi-instance-redis"].param("storm", "ops") < full["multi-instance-redis"].param(
        "storm", "ops"
    )


def test_redis_scenarios_start_their_own_redis_and_share_what_they_check() -> None:
    scenarios = {s.name: s for s in load_all(quick=True)}
    for name in REDIS_SCENARIOS:
        scenario = scenarios[name]
        assert scenario.kind == "redis-outage" or scenario.params["redis"] is True, name
        assert scenario.params["instances"] >= 2, f"{name}: one instance shares nothing"
        assert "redis" in scenario.actors, f"{name} does not declare its redis actor"
    assert scenarios["rate-limit"].params["shared"] is True
    assert scenarios["multi-instance-redis"].invariants == scenarios["multi-instance"].invariants
    assert {"available", "recovers", "no-stale-read", "acknowledged-writes-present"} <= set(
        scenarios["redis-outage"].invariants
    )


def test_mixed_frontends_puts_every_front_end_on_one_project() -> None:
    full = {s.name: s for s in load_all()}["mixed-frontends"]
    quick = {s.name: s for s in load_all(quick=True)}["mixed-frontends"]
    assert full.kind == "mixed-frontends" and full.baseline_expected == "lost-update"
    assert set(full.invariants) == {
        "acknowledged-writes-present",
        "no-stale-read",
        "monotonic-reads",
        "converged",
        "file-parses",
    }
    assert full.actors["agent"]["channel"] == "mcp"
    assert {"agent", "writers", "readers"} <= set(full.actors)
    for scenario in (full, quick):
        assert scenario.params["instances"] == 2
        assert scenario.params["readers"] >= 1
        assert scenario.param("agent", "agents") >= 1
        assert 0 < scenario.param("agent", "read_share") < 1
        channels = scenario.param("storm", "channels")
        assert channels["cli"] > 0 and channels["api"] > 0
    assert quick.param("storm", "ops") < full.param("storm", "ops")
    assert quick.param("agent", "agents") <= full.param("agent", "agents")
    # `--ops` sizes the writers; the agent's plan is `calls` long and stops with them
    overridden = {s.name: s for s in load_all(overrides={"ops": 3})}["mixed-frontends"]
    assert overridden.param("storm", "ops") == 3
    assert overridden.param("agent", "calls") == full.param("agent", "calls")


@pytest.mark.parametrize("quick", [False, True])
def test_double_claim_races_eight_agents_on_every_front_end(quick: bool) -> None:
    scenarios = {s.name: s for s in load_all(quick=quick)}
    for name in ("double-claim", "double-claim-postgres"):
        scenario = scenarios[name]
        assert scenario.kind == "double-claim" and scenario.baseline_expected == "double-claim"
        assert {"one-claim-holder", "worked-once", "releases-recorded"} <= set(scenario.invariants)
        agents = scenario.params["agents"]
        assert sum(agents.values()) == 8
        assert agents["cli"] > 0 and agents["api"] > 0 and agents["mcp"] > 0, agents
        assert scenario.params["instances"] == 2
        # the pool (rounds x agents) outlasts the agents' first round: they race again
        assert scenario.params["rounds"] >= 2
        assert scenario.params["think_ms"] > 0
    full, quick_one = load_all(), load_all(quick=True)
    assert {s.name: s for s in quick_one}["double-claim"].params["rounds"] < {
        s.name: s for s in full
    }["double-claim"].params["rounds"]


@pytest.mark.parametrize("quick", [False, True])
def test_the_zombie_is_stopped_past_its_lease(quick: bool) -> None:
    scenarios = {s.name: s for s in load_all(quick=quick)}
    for name in ("zombie-claimant", "zombie-claimant-postgres"):
        scenario = scenarios[name]
        assert scenario.baseline_expected == "write-under-dead-token"
        assert "fenced-writes" in scenario.invariants
        assert scenario.params["stopped_s"] > scenario.params["lease_s"] > 0
        assert {"A", "B"} <= set(scenario.actors)
        assert scenario.actors["A"]["channel"] != scenario.actors["B"]["channel"]


@pytest.mark.parametrize("name", CLAIM_SCENARIOS)
def test_claim_baselines_run_taskmaster_s_own_programs(tmp_path: Path, name: str) -> None:
    (scenario,) = select(load_all(quick=True), [name])
    assert scenario.params["baseline_stack"] == "taskmaster"
    runs = {
        target: base.ScenarioRun(scenario, target, tmp_path, 1, Progress("x", quiet=True))
        for target in TARGETS
    }
    try:
        for run in runs.values():
            run.prepare()
        baseline = runs["baseline"].target
        assert baseline.name == "baseline" and baseline.safe
        assert baseline.cli("next")[0] == runs["safe"].target.cli("next")[0]
        assert Target.from_dict(baseline.to_dict()) == baseline
    finally:
        for run in runs.values():
            run.close()
    # other scenarios' baselines keep the naive programs
    (other,) = select(load_all(quick=True), ["lost-update"])
    run = base.ScenarioRun(other, "baseline", tmp_path / "other", 1, Progress("x", quiet=True))
    try:
        run.prepare()
        assert not run.target.safe
    finally:
        run.close()


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


@pytest.mark.parametrize("name", REDIS_SCENARIOS)
def test_without_redis_server_a_redis_scenario_is_skipped_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(base, "redis_server_binary", lambda: None)
    monkeypatch.delenv("TM_REQUIRE_REDIS", raising=False)
    (scenario,) = select(load_all(quick=True), [name])
    rows = [run_one(scenario, target, tmp_path, 1, quiet=True) for target in TARGETS]
    assert [row.verdict for row in rows] == [report.SKIPPED, report.SKIPPED]
    assert all("redis-server not installed" in (row.skipped or "") for row in rows)
    assert report.exit_code(rows) == 0
    assert "skipped: redis-server not installed" in report.table(rows)
    assert json.loads(report.as_json(rows))["rows"][0]["skipped"]


def test_tm_require_redis_turns_the_skip_into_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "redis_server_binary", lambda: None)
    monkeypatch.setenv("TM_REQUIRE_REDIS", "1")
    (scenario,) = select(load_all(quick=True), ["redis-outage"])
    row = run_one(scenario, "safe", tmp_path, 1, quiet=True)
    assert row.verdict == report.ERROR and "TM_REQUIRE_REDIS=1" in (row.error or "")
    assert report.exit_code([row]) == 1


def test_without_the_reference_tool_its_scenario_is_skipped_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import reference_tool

    monkeypatch.setattr(reference_tool, "ensure_installed", lambda: None)
    monkeypatch.delenv(reference_tool.REQUIRE_ENV, raising=False)
    (scenario,) = select(load_all(quick=True), ["reference-tool"])
    rows = [run_one(scenario, target, tmp_path, 1, quiet=True) for target in TARGETS]
    assert [row.verdict for row in rows] == [report.SKIPPED, report.SKIPPED]
    assert all("task-master-ai 0.43.1 is not installed" in (row.skipped or "") for row in rows)
    assert report.exit_code(rows) == 0


def test_tm_require_reference_tool_turns_the_skip_into_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import reference_tool

    monkeypatch.setattr(reference_tool, "ensure_installed", lambda: None)
    monkeypatch.setenv(reference_tool.REQUIRE_ENV, "1")
    (scenario,) = select(load_all(quick=True), ["reference-tool"])
    row = run_one(scenario, "safe", tmp_path, 1, quiet=True)
    assert row.verdict == report.ERROR and "TM_REQUIRE_REFERENCE_TOOL=1" in (row.error or "")
    assert report.exit_code([row]) == 1


def test_the_reference_tool_scenario_is_smaller_in_quick_and_its_baseline_is_tm() -> None:
    full = {s.name: s for s in load_all()}["reference-tool"]
    quick = {s.name: s for s in load_all(quick=True)}["reference-tool"]
    assert quick.params["reference_writes"] < full.params["reference_writes"]
    assert full.params["baseline_stack"] == "taskmaster"


# PostgreSQL ------------------------------------------------------------------------------------


@pytest.mark.parametrize("quick", [False, True])
def test_each_postgres_twin_runs_its_file_scenario_on_postgresql(quick: bool) -> None:
    scenarios = {s.name: s for s in load_all(quick=quick)}
    for name, twin_name in POSTGRES_TWINS.items():
        file, twin = scenarios[name], scenarios[twin_name]
        assert file.param("backend", default="file") == "file"
        assert twin.params["backend"] == "postgresql"
        assert twin.kind == file.kind, twin_name
        # the same guarantees, checked the same way
        assert twin.invariants == file.invariants, twin_name
        assert set(file.actors) <= set(twin.actors), twin_name
        if name != "crash":
            # the same load (`--quick`: no more than the file's, a `tm` start costs more on
            # PostgreSQL); crash's writers live longer and write mostly through the library
            assert twin.baseline_expected == file.baseline_expected, twin_name
            if not quick:
                assert twin.param("storm") == file.param("storm"), twin_name
            elif file.param("storm"):
                assert twin.param("storm", "ops") <= file.param("storm", "ops"), twin_name
                assert twin.param("storm", "channels") == file.param("storm", "channels")
            if name == "stale-cache":
                assert 0 < twin.params["rounds"] <= file.params["rounds"]
    # The naive store on PostgreSQL cannot tear a document (one atomic UPDATE) but loses
    # what concurrent writers acknowledged: that is its expected failure under crash.
    assert scenarios["crash-postgres"].baseline_expected == "lost-update"
    crash = scenarios["crash-postgres"].params
    assert crash["postgres_kill_after"] < crash["kills"], "the postmaster is killed mid-run"
    assert crash["observer"] is True and crash["forced"] is True


def test_postgres_outage_checks_recovery_and_counts_errors_instead_of_failing_on_them() -> None:
    full = {s.name: s for s in load_all()}["postgres-outage"]
    quick = {s.name: s for s in load_all(quick=True)}["postgres-outage"]
    assert full.kind == "postgres-outage" and full.params["backend"] == "postgresql"
    assert full.baseline_expected == "stale-read"
    assert {"acknowledged-writes-present", "no-stale-read", "recovers", "converged"} <= set(
        full.invariants
    )
    # requests fail while the server is away: "available" (no request may fail) is not asked
    assert "available" not in full.invariants
    assert "postgres" in full.actors
    for scenario in (full, quick):
        assert scenario.params["instances"] >= 2
        channels = scenario.param("storm", "channels")
        assert channels["api"] > 0 and channels["cli"] > 0 and channels["core"] > 0
    timeline = ("before_ms", "outage_ms", "after_ms")
    assert sum(quick.params[k] for k in timeline) < sum(full.params[k] for k in timeline)
    assert quick.param("storm", "writers") < full.param("storm", "writers")


@pytest.fixture
def no_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_support, "postgres_bindir", lambda: None)
    monkeypatch.setattr(postgres_support, "_shared", None)


@pytest.mark.parametrize("name", POSTGRES_SCENARIOS)
def test_without_postgresql_a_postgres_scenario_is_skipped_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_postgres: None, name: str
) -> None:
    monkeypatch.delenv("TM_REQUIRE_POSTGRES", raising=False)
    (scenario,) = select(load_all(quick=True), [name])
    rows = [run_one(scenario, target, tmp_path, 1, quiet=True) for target in TARGETS]
    assert [row.verdict for row in rows] == [report.SKIPPED, report.SKIPPED]
    assert all("PostgreSQL server binaries" in (row.skipped or "") for row in rows)
    assert report.exit_code(rows) == 0


def test_tm_require_postgres_turns_the_skip_into_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_postgres: None
) -> None:
    monkeypatch.setenv("TM_REQUIRE_POSTGRES", "1")
    (scenario,) = select(load_all(quick=True), ["postgres-outage"])
    row = run_one(scenario, "safe", tmp_path, 1, quiet=True)
    assert row.verdict == report.ERROR and "TM_REQUIRE_POSTGRES=1" in (row.error or "")
    assert report.exit_code([row]) == 1


def test_an_unknown_backend_is_an_error_not_a_file_run(tmp_path: Path) -> None:
    text = (SCENARIO_DIR / "stale-cache.toml").read_text()
    path = tmp_path / "x.toml"
    path.write_text(text.replace('kind = "stale-cache"', 'kind = "stale-cache"\nbackend = "nfs"'))
    row = run_one(load(path, quick=True), "safe", tmp_path, 1, quiet=True)
    assert row.verdict == report.ERROR and "unknown backend 'nfs'" in (row.error or "")
