"""`tm claim`, `tm claim renew`, `tm claim release`, `tm claims`, and `--claim TOKEN` on the
writes: flows, JSON shapes, errors and usage errors, on the file backend."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from test_cli_support import Tm

from taskmaster.cli import cli

CLAIM_KEYS = {"id", "tag", "token", "agent", "claimedAt", "expiresAt", "state"}


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    tm = Tm(tmp_path)
    # An agent name in the environment running the tests must not stand in for a missing one.
    tm.runner = CliRunner(env={"NO_COLOR": None, "TM_PROJECT": None, "TM_AGENT": None})
    tm.ok("init")
    return tm


@pytest.fixture
def filled(tm: Tm) -> Tm:
    """1 pending high; 2 pending with subtasks 2.1, 2.2; 3 pending low (needs 1)."""
    tm.add("Scaffold", "--priority", "high")
    tm.add("Schema")
    tm.add("Docs", "--priority", "low", "--dependencies", "1")
    tm.ok("add-subtask", "-p", "2", "-t", "Tables")
    tm.ok("add-subtask", "-p", "2", "-t", "Migrations")
    return tm


def claim(tm: Tm, *args: str) -> dict[str, Any]:
    answer: dict[str, Any] = tm.json("claim", *args)
    return answer


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def wait_past(iso: str) -> None:
    """Wait until the local clock (the file backend's) is past `iso`: a lease has run out."""
    deadline = seconds(iso)
    while time.time() <= deadline:
        time.sleep(max(0.01, deadline - time.time() + 0.01))


def lines_of(result: Any) -> list[str]:
    return [line.rstrip() for line in result.stdout.splitlines()]


# claiming ----------------------------------------------------------------------------------------


def test_claim_next_json_is_the_task_and_the_claim(filled: Tm) -> None:
    answer = claim(filled, "--agent", "a1", "--lease", "10m")
    assert set(answer) == {"task", "claim", "expired"}
    task, held = answer["task"], answer["claim"]
    assert task["id"] == 1 and task["status"] == "in-progress"
    assert set(held) == CLAIM_KEYS
    assert held["id"] == "1" and held["tag"] == "master" and held["agent"] == "a1"
    assert held["state"] == "live" and held["token"] >= 1
    assert seconds(held["expiresAt"]) - seconds(held["claimedAt"]) == pytest.approx(600, abs=0.01)
    assert answer["expired"] == []
    stored = filled.task(1)
    assert stored["status"] == "in-progress"
    assert stored["metadata"]["claim"] == {
        key: held[key] for key in ("token", "agent", "claimedAt", "expiresAt")
    }
    assert task["metadata"]["claim"] == stored["metadata"]["claim"]


def test_claim_text_names_task_title_token_and_expiry(filled: Tm) -> None:
    text = filled.ok("claim", "--agent", "a1").stdout
    held = filled.task(1)["metadata"]["claim"]
    assert "Claimed task 1: Scaffold" in text
    assert f"Token:    {held['token']}" in text
    assert held["expiresAt"][:10] in text and held["expiresAt"][11:19] in text
    assert "15m lease" in text  # the default
    assert f"--claim {held['token']}" in text


def test_tokens_strictly_increase_and_each_claim_gets_another_task(filled: Tm) -> None:
    first = claim(filled, "--agent", "a1")
    second = claim(filled, "--agent", "a2")
    assert (first["task"]["id"], second["task"]["id"]) == (1, 2)
    # 3 waits on 1, and the subtasks of 2 belong to a2's claim: nothing is left for a3
    assert claim(filled, "--next", "--agent", "a3")["claim"] is None
    filled.ok("claim", "release", str(first["claim"]["token"]), "--status", "done")
    third = claim(filled, "--next", "--agent", "a3")
    assert third["task"]["id"] == 3
    assert first["claim"]["token"] < second["claim"]["token"] < third["claim"]["token"]


def test_claim_by_id_and_a_subtask(filled: Tm) -> None:
    answer = claim(filled, "2.2", "--agent", "a1")
    assert answer["task"]["id"] == "2.2" and answer["task"]["parentId"] == 2
    assert answer["claim"]["id"] == "2.2"
    text = filled.ok("claim", "3", "--agent", "a2").stdout
    assert text.startswith("Claimed task 3: Docs")
    sub = next(s for s in filled.task(2)["subtasks"] if s["id"] == 2)
    assert sub["metadata"]["claim"]["agent"] == "a1"


def test_claim_held_by_another_agent_exits_1_naming_holder_and_expiry(filled: Tm) -> None:
    held = claim(filled, "1", "--agent", "a1")["claim"]
    before = filled.tasks_file.read_bytes()
    result = filled.fails(1, "claim", "1", "--agent", "a2")
    assert "'a1'" in result.stderr and held["expiresAt"] in result.stderr
    assert "task 1" in result.stderr
    assert filled.tasks_file.read_bytes() == before
    # its subtask's task is held too: a subtask of a held task is refused to another agent
    claim(filled, "2", "--agent", "a1")
    result = filled.fails(1, "claim", "2.1", "--agent", "a2", "--json")
    assert "'a1'" in result.stderr and result.stdout == ""


def test_nothing_left_to_claim_exits_0(tm: Tm) -> None:
    tm.add("Only")
    assert claim(tm, "--agent", "a1")["task"]["id"] == 1
    assert claim(tm, "--agent", "a2") == {"task": None, "claim": None, "expired": []}
    assert "Nothing left to claim" in tm.ok("claim", "--agent", "a2").stdout


def test_agent_comes_from_tm_agent(filled: Tm) -> None:
    result = filled("claim", "--json", env={"TM_AGENT": "from-env"})
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)["claim"]["agent"] == "from-env"
    # an explicit --agent wins over the environment
    result = filled("claim", "--agent", "given", "--json", env={"TM_AGENT": "from-env"})
    assert orjson.loads(result.stdout)["claim"]["agent"] == "given"


def test_claim_in_another_tag(filled: Tm) -> None:
    filled.ok("tags", "add", "feature", "--copy-from", "master")
    answer = claim(filled, "--agent", "a1", "--tag", "feature")
    assert answer["claim"]["tag"] == "feature"
    assert "claim" in filled.task(1, "feature")["metadata"]
    assert "metadata" not in filled.task(1)
    listed = filled.json("claims", "--tag", "feature")
    assert listed["tag"] == "feature" and [c["token"] for c in listed["claims"]] == [
        answer["claim"]["token"]
    ]
    assert filled.json("claims") == {"tag": "master", "claims": []}


# renew and release -------------------------------------------------------------------------------


def test_renew_extends_the_lease(filled: Tm) -> None:
    held = claim(filled, "--agent", "a1", "--lease", "1m")["claim"]
    renewed = filled.json("claim", "renew", str(held["token"]), "--lease", "2h")
    assert set(renewed) == CLAIM_KEYS | {"renewedAt"}
    assert renewed["token"] == held["token"] and renewed["state"] == "live"
    assert seconds(renewed["expiresAt"]) - seconds(renewed["renewedAt"]) == pytest.approx(
        7200, abs=0.01
    )
    assert filled.task(1)["metadata"]["claim"]["expiresAt"] == renewed["expiresAt"]
    text = filled.ok("claim", "renew", str(held["token"])).stdout
    assert f"Claim {held['token']} on task 1 renewed" in text and "(15m)" in text


def test_release_with_status_ends_the_claim_and_sets_the_outcome(filled: Tm) -> None:
    token = str(claim(filled, "--agent", "a1")["claim"]["token"])
    released = filled.json("claim", "release", token, "--status", "done")
    assert released["state"] == "released" and released["token"] == int(token)
    assert released["status"] == "done" and "endedAt" in released
    stored = filled.task(1)
    assert stored["status"] == "done"
    assert "claim" not in stored["metadata"]
    assert stored["metadata"]["claimHistory"][-1]["outcome"] == "released"
    # a released claim cannot be renewed, released again, or write
    for args in (("claim", "renew", token), ("claim", "release", token)):
        result = filled.fails(1, *args)
        assert f"claim {token} is lost" in result.stderr
    filled.fails(1, "update-task", "1", "-t", "Late", "--claim", token)
    assert filled.task(1)["title"] == "Scaffold"


def test_release_text(filled: Tm) -> None:
    token = str(claim(filled, "--agent", "a1")["claim"]["token"])
    text = filled.ok("claim", "release", token).stdout
    assert text.strip() == f"Claim {token} on task 1 released."
    assert filled.task(1)["status"] == "in-progress"  # no --status: the status stays


# the zombie --------------------------------------------------------------------------------------


def test_a_zombie_write_is_refused_and_the_new_holders_work_stays(filled: Tm) -> None:
    old = claim(filled, "1", "--agent", "zombie", "--lease", "0.3")["claim"]
    wait_past(old["expiresAt"])
    answer = claim(filled, "1", "--agent", "fresh")
    new = answer["claim"]
    assert new["token"] > old["token"]
    assert [(e["token"], e["state"]) for e in answer["expired"]] == [(old["token"], "expired")]
    filled.ok(
        "update-task", "1", "--details", "the new holder's work", "--claim", str(new["token"])
    )
    before = filled.tasks_file.read_bytes()

    result = filled.fails(
        1, "update-task", "1", "--details", "the zombie's work", "--claim", str(old["token"])
    )
    assert f"claim {old['token']} is lost" in result.stderr
    assert "'fresh'" in result.stderr
    assert filled.tasks_file.read_bytes() == before
    assert filled.task(1)["details"] == "the new holder's work"
    assert filled.task(1)["metadata"]["claim"]["agent"] == "fresh"


def test_an_expired_claim_shows_as_expired_before_anyone_claims(filled: Tm) -> None:
    old = claim(filled, "1", "--agent", "a1", "--lease", "0.2")["claim"]
    wait_past(old["expiresAt"])
    listed = filled.json("claims")["claims"]
    assert [(c["token"], c["state"]) for c in listed] == [(old["token"], "expired")]
    assert "ran out" in filled.ok("claims").stdout
    # the lease ran out: another agent may claim it, and the old token writes nothing
    filled.fails(1, "set-status", "1", "done", "--claim", str(old["token"]))
    assert claim(filled, "1", "--agent", "a2")["claim"]["agent"] == "a2"


# --claim on the writes ---------------------------------------------------------------------------


WRITES = [
    ("set-status", ["set-status", "1", "review"], lambda t: t(1)["status"] == "review"),
    ("update-task", ["update-task", "1", "-t", "Renamed"], lambda t: t(1)["title"] == "Renamed"),
    (
        "add-subtask",
        ["add-subtask", "-p", "1", "-t", "Step"],
        lambda t: [s["title"] for s in t(1)["subtasks"]] == ["Step"],
    ),
    (
        "add-dependency",
        ["add-dependency", "-i", "1", "-d", "2"],
        lambda t: t(1)["dependencies"] == [2],
    ),
    ("move", ["move", "--from", "1", "--to", "9"], lambda t: t(9)["title"] == "Scaffold"),
    ("remove-task", ["remove-task", "1", "--yes"], lambda t: True),
]


@pytest.mark.parametrize(("args", "landed"), [w[1:] for w in WRITES], ids=[w[0] for w in WRITES])
def test_a_write_with_the_live_token_lands(filled: Tm, args: list[str], landed: Any) -> None:
    token = str(claim(filled, "1", "--agent", "a1")["claim"]["token"])
    filled.ok(*args, "--claim", token)
    assert landed(filled.task)
    if args[0] == "remove-task":
        assert [t["id"] for t in filled.tasks()] == [2, 3]


@pytest.mark.parametrize("args", [w[1] for w in WRITES], ids=[w[0] for w in WRITES])
def test_a_write_with_another_tasks_token_is_refused(filled: Tm, args: list[str]) -> None:
    claim(filled, "1", "--agent", "a1")
    other = str(claim(filled, "2", "--agent", "a2")["claim"]["token"])
    before = filled.tasks_file.read_bytes()
    result = filled.fails(1, *args, "--claim", other)
    assert f"claim {other} is lost" in result.stderr
    assert filled.tasks_file.read_bytes() == before


def test_writes_naming_no_task_need_a_live_claim_in_the_tag(filled: Tm) -> None:
    filled.fails(1, "add-task", "-t", "New", "--claim", "1")
    token = str(claim(filled, "--agent", "a1")["claim"]["token"])
    assert filled.json("add-task", "-t", "New", "--claim", token)["id"] == 4
    filled.ok("tags", "add", "feature", "--claim", token)
    filled.ok("add-tag", "other", "--claim", token)  # the reference's name takes it too
    filled.ok("tags", "use", "feature", "--claim", token)
    assert {"feature", "other"} <= set(filled.data())


def test_subtask_writes_with_the_tasks_token(filled: Tm) -> None:
    token = str(claim(filled, "2", "--agent", "a1")["claim"]["token"])
    filled.ok("update-subtask", "-i", "2.1", "-p", "A note", "--claim", token)
    filled.ok("remove-subtask", "-i", "2.2", "--claim", token)
    subs = filled.task(2)["subtasks"]
    assert [s["id"] for s in subs] == [1] and "A note" in subs[0]["details"]
    filled.fails(1, "clear-subtasks", "-i", "2", "--claim", str(int(token) + 1))
    filled.ok("clear-subtasks", "-i", "2", "--claim", token)
    assert filled.task(2)["subtasks"] == []


def test_every_write_command_takes_claim() -> None:
    writes = {
        ("set-status",),
        ("add-task",),
        ("update-task",),
        ("remove-task",),
        ("add-subtask",),
        ("update-subtask",),
        ("remove-subtask",),
        ("clear-subtasks",),
        ("add-dependency",),
        ("remove-dependency",),
        ("fix-dependencies",),
        ("move",),
        ("tags", "add"),
        ("tags", "use"),
        ("tags", "remove"),
        ("tags", "rename"),
        ("tags", "copy"),
        ("add-tag",),
        ("use-tag",),
        ("delete-tag",),
        ("rename-tag",),
        ("copy-tag",),
    }
    for path in writes:
        command: Any = cli
        for name in path:
            command = command.commands[name]
        assert "--claim" in {opt for p in command.params for opt in getattr(p, "opts", [])}, path
    for reads in (("list",), ("show",), ("next",), ("claims",)):
        command = cli.commands[reads[0]]
        assert "--claim" not in {opt for p in command.params for opt in getattr(p, "opts", [])}


# reads show claims -------------------------------------------------------------------------------


def test_next_unclaimed_skips_the_claimed_task(filled: Tm) -> None:
    assert filled.json("next")["id"] == 1
    token = claim(filled, "1", "--agent", "a1")["claim"]["token"]
    raw = filled.json("next")
    assert raw["id"] == 1 and raw["metadata"]["claim"]["token"] == token
    assert raw == filled.json("show", "1")  # the JSON shape stays the raw task
    assert filled.json("next", "--unclaimed")["id"] == 2
    text = filled.ok("next").stdout
    assert "Task 1: Scaffold" in text and f"a1 (token {token})" in text and "left" in text
    assert "Claimed by" not in filled.ok("next", "--unclaimed").stdout


def test_next_unclaimed_when_everything_is_claimed(tm: Tm) -> None:
    tm.add("Only")
    claim(tm, "--agent", "a1")
    assert tm.json("next", "--unclaimed") is None
    assert "No unclaimed task is ready" in tm.ok("next", "--unclaimed").stdout


def test_show_names_the_live_claims_of_a_task_and_its_subtasks(filled: Tm) -> None:
    token = claim(filled, "2.1", "--agent", "a1")["claim"]["token"]
    lines = lines_of(filled.ok("show", "2"))
    row = next(line for line in lines if line.lstrip().startswith("2.1"))
    assert f"[claimed by a1 (token {token}), " in row and row.endswith("left]")
    detail = lines_of(filled.ok("show", "2.1"))
    assert any(line.startswith("Claimed by:") and f"token {token}" in line for line in detail)
    assert not any("Claimed by" in line for line in lines_of(filled.ok("show", "1")))


def test_list_ready_has_a_claim_column(filled: Tm) -> None:
    token = claim(filled, "1", "--agent", "a1")["claim"]["token"]
    lines = lines_of(filled.ok("list", "--ready"))
    assert lines[0].split()[-2:] == ["Claimed", "by"]
    row = next(line for line in lines if line.startswith("1 "))
    assert f"a1 (token {token}), " in row and row.endswith("left")
    assert not any("token" in line for line in lines if line.startswith("2 "))
    # without --ready, and with --json, nothing changes
    assert "Claimed by" not in filled.ok("list").stdout
    listed = filled.json("list", "--ready")
    assert set(listed) == {"tag", "tasks"}
    assert listed["tasks"][0]["metadata"]["claim"]["token"] == token


def test_ended_claims_are_not_shown_as_live(filled: Tm) -> None:
    token = str(claim(filled, "1", "--agent", "a1")["claim"]["token"])
    filled.ok("claim", "release", token)
    assert "Claimed by" not in filled.ok("list", "--ready").stdout
    assert "Claimed by" not in filled.ok("show", "1").stdout


# tm claims ---------------------------------------------------------------------------------------


def test_claims_lists_live_ones_and_all_lists_ended_ones(filled: Tm) -> None:
    expired = claim(filled, "1", "--agent", "a1", "--lease", "0.2")["claim"]
    wait_past(expired["expiresAt"])
    released = claim(filled, "2", "--agent", "a2")["claim"]
    filled.ok("claim", "release", str(released["token"]), "--status", "done")
    superseded = claim(filled, "3", "--agent", "a3")["claim"]
    live = claim(filled, "3", "--agent", "a3")["claim"]  # the same agent again: a new token
    taken = claim(filled, "1", "--agent", "a4")["claim"]

    listed = filled.json("claims")
    assert listed["tag"] == "master"
    assert [(c["token"], c["state"]) for c in listed["claims"]] == [
        (live["token"], "live"),
        (taken["token"], "live"),
    ]
    every = filled.json("claims", "--all")["claims"]
    states = {c["token"]: c["state"] for c in every}
    assert states == {
        expired["token"]: "expired",
        released["token"]: "released",
        superseded["token"]: "superseded",
        live["token"]: "live",
        taken["token"]: "live",
    }
    assert [c["token"] for c in every] == sorted(states)

    lines = lines_of(filled.ok("claims", "--all"))
    assert lines[0].split() == ["ID", "Agent", "Token", "State", "Expires", "Title"]
    by_token = {line.split()[2]: line for line in lines[1:]}
    assert "released (done)" in by_token[str(released["token"])]
    assert "Schema" in by_token[str(released["token"])]
    assert "expired" in by_token[str(expired["token"])]
    assert "left)" in by_token[str(taken["token"])] and "Scaffold" in by_token[str(taken["token"])]
    assert str(expired["token"]) not in {line.split()[2] for line in lines_of(filled.ok("claims"))}


def test_no_claims(tm: Tm) -> None:
    assert tm.ok("claims").stdout.strip() == "No live claims in tag 'master'."
    assert tm.ok("claims", "--all").stdout.strip() == "No claims in tag 'master'."
    assert tm.json("claims", "--all") == {"tag": "master", "claims": []}


# usage errors and parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["claim"],  # no agent, none in TM_AGENT
        ["claim", "1"],
        ["claim", "--agent", "   "],
        ["claim", "1", "--next", "--agent", "a1"],
        ["claim", "--agent", "a1", "--lease", "abc"],
        ["claim", "--agent", "a1", "--lease", "0"],
        ["claim", "--agent", "a1", "--lease", "-5"],
        ["claim", "--agent", "a1", "--lease", "9d"],
        ["claim", "x.1", "--agent", "a1"],
        ["claim", "renew", "x"],
        ["claim", "renew", "0"],
        ["claim", "renew"],
        ["claim", "renew", "1", "--lease", "abc"],
        ["claim", "release", "-3"],
        ["claim", "release", "1", "--status", "finished"],
        ["update-task", "1", "-t", "X", "--claim", "x"],
        ["update-task", "1", "-t", "X", "--claim", "0"],
        ["set-status", "1", "done", "--claim", "1.5"],
        ["tags", "add", "feature", "--claim", "abc"],
    ],
    ids=" ".join,
)
def test_usage_errors_exit_2_and_change_nothing(filled: Tm, args: list[str]) -> None:
    before = filled.tasks_file.read_bytes()
    result = filled.fails(2, *args)
    assert "Traceback" not in result.output
    assert "Error:" in result.stderr
    assert filled.tasks_file.read_bytes() == before


def test_the_first_argument_is_a_subcommand_or_the_id(filled: Tm) -> None:
    # `renew`/`release` first: the subcommand; their token names no claim yet
    assert "claim 7 is lost" in filled.fails(1, "claim", "renew", "7").stderr
    assert "claim 7 is lost" in filled.fails(1, "claim", "release", "7").stderr
    # a number first: the task to claim, with options before or after it
    assert claim(filled, "3", "--agent", "a1")["task"]["id"] == 3
    assert claim(filled, "--agent", "a2", "2")["task"]["id"] == 2
    # options first, then a subcommand's name: that is no id, so a usage error
    result = filled.fails(2, "claim", "--agent", "a1", "renew", "5")
    assert "renew" in result.stderr
    # the name the claim is handed on under is no alias
    assert "invalid task id 'claim'" in filled.fails(2, "claim", "claim", "--agent", "a").stderr
    # a usage error of the claim points at `tm claim`, not at an inner name
    result = filled.fails(2, "claim", "1")
    assert "Try 'cli claim --help'" in result.stderr
    assert "claim claim" not in result.output


def test_claim_help_explains_all_three(tm: Tm) -> None:
    text = tm.ok("claim", "--help").stdout
    for usage in (
        "claim [ID] [--next] --agent NAME",
        "claim renew TOKEN [--lease D]",
        "claim release TOKEN [--status S]",
    ):
        assert usage in text
    for option in ("--next", "--agent NAME", "TM_AGENT", "--lease D", "--tag", "--json"):
        assert option in text
    assert "renew" in text.split("Commands:")[1] and "release" in text.split("Commands:")[1]
    assert "Usage: cli claim renew [OPTIONS] TOKEN" in tm.ok("claim", "renew", "--help").stdout
    assert "--status" in tm.ok("claim", "release", "--help").stdout
    assert tm.ok("claim", "3", "--help").stdout.startswith("Usage: cli claim [OPTIONS] [ID]")


# the installed `tm` ------------------------------------------------------------------------------


def test_the_console_script_claims_and_refuses_a_zombie(tmp_path: Path) -> None:
    tm_script = Path(sys.executable).with_name("tm")
    env = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}

    def run(*args: str, agent: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"TM_AGENT": agent} if agent else {}
        return subprocess.run(
            [str(tm_script), "--project", str(tmp_path), *args],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=60,
        )

    assert run("init").returncode == 0
    assert run("add-task", "-t", "Work").returncode == 0
    assert run("claim").returncode == 2  # no agent anywhere
    first = run("claim", "--lease", "0.3", "--json", agent="one")
    assert first.returncode == 0, first.stderr
    old = orjson.loads(first.stdout)["claim"]
    wait_past(old["expiresAt"])
    second = orjson.loads(run("claim", "1", "--json", agent="two").stdout)["claim"]
    assert run("update-task", "1", "-d", "two's", "--claim", str(second["token"])).returncode == 0
    zombie = run("update-task", "1", "-d", "one's", "--claim", str(old["token"]))
    assert zombie.returncode == 1
    assert zombie.stderr.strip().startswith(f"Error: claim {old['token']} is lost")
    stored = orjson.loads((tmp_path / ".taskmaster" / "tasks.json").read_bytes())
    task = stored["master"]["tasks"][0]
    assert task["description"] == "two's" and task["metadata"]["claim"]["agent"] == "two"


# the pieces of text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "text"),
    [(0.3, "0.3s"), (45, "45s"), (60, "1m"), (843, "14m 3s"), (9000, "2h 30m"), (90061, "1d 1h")],
)
def test_duration_reads_as_two_units_at_most(length: float, text: str) -> None:
    from taskmaster.cli.render import duration

    assert duration(length) == text


def test_time_left_and_ran_out() -> None:
    from taskmaster.cli.render import claim_note, time_left

    view = {"agent": "a1", "token": 7, "expiresAt": "2026-12-02T10:15:00.000Z"}
    at = datetime.fromisoformat("2026-12-02T10:00:00+00:00").timestamp()
    assert time_left(view, at) == "15m left"
    assert time_left(view, at + 960) == "ran out 1m ago"
    assert claim_note(view, at + 1) == "a1 (token 7), 14m 59s left"
