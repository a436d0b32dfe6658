"""`tm history`, `tm undo`, `tm --actor` / TM_ACTOR and the journal's retention variables.

Most tests run the `tm` group in-process (`Tm`, as the other CLI tests do); the installed `tm`
runs as real processes on a task file and on a real PostgreSQL cluster (the tests' own).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from test_cli_support import Tm

from taskmaster.cli import cli
from taskmaster.cli.history import change_lines, entry_lines
from taskmaster.config import check_actor, journal_settings, parse_age
from taskmaster.errors import InvalidInput
from taskmaster.journal.entry import default_actor

TM = str(Path(sys.executable).with_name("tm"))


@pytest.fixture
def tm(tmp_path: Path) -> Tm:
    return Tm.init(tmp_path)


def entries(tm: Tm, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = tm.json("history", *args)["entries"]
    return found


def revisions(tm: Tm, *args: str) -> list[int]:
    return [entry["revision"] for entry in entries(tm, *args)]


def blocks(text: str) -> list[str]:
    return [block for block in text.strip().split("\n\n") if block]


# tm history ------------------------------------------------------------------------------------


def test_history_names_each_commit_its_actor_command_and_changed_fields(tm: Tm) -> None:
    tm.ok("--actor", "alice", "add-task", "--title", "Write docs")
    tm.ok("--actor", "bob", "set-status", "1", "done")
    out = tm.ok("history").stdout
    first, second = blocks(out)
    assert first.splitlines()[0].endswith("alice (cli)")
    assert "add-task title=Write docs" in first
    assert '  + task 1 "Write docs"' in first.splitlines()
    header, command, change = second.splitlines()
    assert header.startswith(f"revision {revisions(tm)[1]}  ")
    assert header.endswith("  bob (cli)") and " UTC  " in header
    assert command == "  set-status ids=1 status=done"
    assert change == "  1 status: pending -> done"  # the tag's time stamp is left out
    # --json keeps everything, the stamp included, and says the revision now
    document = tm.json("history")
    assert document["revision"] == document["entries"][-1]["revision"]
    last = document["entries"][-1]
    assert (last["actor"], last["via"], last["kind"], last["command"]) == (
        "bob",
        "cli",
        "command",
        "set-status",
    )
    fields = {(c["id"], c["field"]): c for c in last["changes"]}
    assert fields[("1", "status")] == {
        "tag": "master",
        "id": "1",
        "field": "status",
        "before": "pending",
        "after": "done",
    }
    assert (None, "metadata.updated") in fields


def test_a_removed_task_and_subtasks_show_with_their_titles(tm: Tm) -> None:
    tm.add("Parent")
    tm.ok("add-subtask", "--parent", "1", "--title", "Child")
    tm.ok("remove-task", "1", "--yes")
    last = blocks(tm.ok("history", "--limit", "2").stdout)
    assert '  + subtask 1.1 "Child"' in last[0].splitlines()
    assert '  - task 1 "Parent"' in last[1].splitlines()


def test_the_actor_comes_from_the_option_then_the_variable_then_user_at_host(tm: Tm) -> None:
    tm.add("by default")
    tm.runner.env["TM_ACTOR"] = "ci-bot"
    tm.add("by the variable")
    tm.ok("--actor", "alice", "add-task", "--title", "the option wins")
    tm.runner.env["TM_ACTOR"] = ""  # set but empty: the default, as unset
    tm.add("empty variable")
    assert [e["actor"] for e in entries(tm)] == [
        default_actor(),
        "ci-bot",
        "alice",
        default_actor(),
    ]


def test_filters_by_item_actor_tag_since_and_limit(tm: Tm) -> None:
    tm.ok("--actor", "alice", "add-task", "--title", "One")
    tm.ok("--actor", "bob", "add-task", "--title", "Two")
    tm.ok("add-subtask", "--parent", "2", "--title", "Two's child")
    tm.ok("tags", "add", "feature")
    tm.ok("--tag", "feature", "add-task", "--title", "Elsewhere")
    tm.ok("set-status", "2.1", "done")
    every = entries(tm)
    one, two, child, tag, elsewhere, status = (e["revision"] for e in every)
    assert revisions(tm, "2") == [two, child, status]  # a task's history covers its subtasks
    assert revisions(tm, "2.1") == [child, status]
    assert revisions(tm, "1") == [one]  # task 1 of the current tag, as `tm show 1`
    assert revisions(tm, "1", "--tag", "feature") == [elsewhere]
    assert revisions(tm, "--actor", "bob") == [two]
    assert revisions(tm, "--tag", "feature") == [tag, elsewhere]
    assert revisions(tm, "--since", str(child)) == [tag, elsewhere, status]
    assert revisions(tm, "--limit", "2") == [elsewhere, status]  # the most recent two
    assert revisions(tm, "2", "--since", str(two), "--limit", "1") == [status]
    assert revisions(tm, "--actor", "nobody") == []
    assert tm.ok("history", "--actor", "nobody").stdout == "No journal entry matches.\n"
    # the group's --tag filters too
    assert [e["revision"] for e in tm.json("--tag", "feature", "history")["entries"]] == [
        tag,
        elsewhere,
    ]


def test_long_values_are_shortened_and_control_characters_escaped(tm: Tm) -> None:
    description = "word " * 60
    tm.add("Long", "--description", description)
    tm.ok("update-task", "1", "--title", "Evil\x1b]0;owned\x07 title")
    out = tm.ok("history").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert r"1 title: Long -> Evil\x1b]0;owned\x07 title" in out
    add_line = next(line for line in out.splitlines() if "add-task" in line)
    assert "…" in add_line and len(add_line) < len(description)
    # --json has the whole value
    assert entries(tm)[0]["args"]["description"] == description


def test_an_editors_change_shows_as_an_outside_entry_with_its_fields(tm: Tm) -> None:
    tm.add("Typed")
    data = tm.data()
    data["master"]["tasks"][0]["title"] = "Edited by hand"
    tm.tasks_file.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    last = blocks(tm.ok("history").stdout)[-1].splitlines()
    assert last[0].endswith("outside (outside)")
    assert "changed outside Task Master" in last[1]
    assert "1 title: Typed -> Edited by hand" in last[2]
    entry = entries(tm)[-1]
    assert entry["kind"] == "external" and "command" not in entry


def test_history_reads_where_the_outside_change_cannot_be_journaled(
    tm: Tm, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskmaster.storage.file import FileStorage

    tm.add("Typed")

    def read_only(self: FileStorage) -> int:
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(FileStorage, "journal_outside_change", read_only)
    assert [e["command"] for e in entries(tm)] == ["add-task"]


def test_the_history_of_an_id_is_that_task_of_that_tag(tm: Tm) -> None:
    tm.add("Master one")
    tm.add("Master two")
    tm.ok("tags", "add", "feature")
    tm.ok("--tag", "feature", "add-task", "--title", "Feature one")
    # one save by an editor changes master's task 2 and feature's task 1
    data = tm.data()
    data["master"]["tasks"][1]["title"] = "Master two, edited"
    data["feature"]["tasks"][0]["title"] = "Feature one, edited"
    tm.tasks_file.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    one, two, _, feature_one, edit = revisions(tm)  # reading the history journals the edit
    assert revisions(tm, "1") == [one]  # the editor did not touch master's task 1
    assert revisions(tm, "2") == [two, edit]
    assert revisions(tm, "1", "--tag", "feature") == [feature_one, edit]


# tm undo ---------------------------------------------------------------------------------------


def test_undo_restores_the_fields_and_is_journaled(tm: Tm) -> None:
    tm.add("Ship")
    tm.ok("set-status", "1", "done")
    target = revisions(tm)[-1]
    out = tm.ok("undo", str(target)).stdout
    now = revisions(tm)[-1]
    assert out == (
        f"Undid revision {target} (set-status on 1): every field it changed has its value from "
        f"before. Now at revision {now}.\n"
    )
    assert tm.task(1)["status"] == "pending"
    block = blocks(tm.ok("history", "--limit", "1").stdout)[0].splitlines()
    assert block[1] == f"  undo: took back revision {target}"
    assert block[2] == "  1 status: done -> pending"
    entry = entries(tm)[-1]
    assert entry["kind"] == "undo" and entry["undoes"] == target
    # the undo can be undone in turn, as JSON
    again = tm.json("undo", str(now))
    assert again["undone"] == now and again["command"] == "undo" and again["ids"] == ["1"]
    assert again["revision"] == revisions(tm)[-1] > now
    assert tm.task(1)["status"] == "done"


def test_undo_of_an_added_task_removes_it(tm: Tm) -> None:
    tm.add("Keep")
    tm.add("Mistake")
    tm.ok("undo", str(revisions(tm)[-1]))
    assert [t["title"] for t in tm.tasks()] == ["Keep"]


def test_undo_refused_by_a_later_change_names_it_and_writes_nothing(tm: Tm) -> None:
    tm.add("Ship")
    tm.ok("set-status", "1", "in-progress")
    first = revisions(tm)[-1]
    tm.ok("set-status", "1", "done")
    later = revisions(tm)[-1]
    before = tm.tasks_file.read_bytes()
    result = tm.fails(1, "undo", str(first))
    assert f"cannot undo revision {first}" in result.stderr
    assert f"(revision {later})" in result.stderr
    assert tm.tasks_file.read_bytes() == before
    assert revisions(tm)[-1] == later


def test_undo_of_a_revision_without_entry_fails_with_one_line(tm: Tm) -> None:
    tm.add("Ship")
    before = tm.tasks_file.read_bytes()
    oldest = revisions(tm)[0]
    result = tm.fails(1, "undo", "1")
    assert result.stderr == (
        f"Error: no journal entry for revision 1; the journal keeps revisions from {oldest}\n"
    )
    assert tm.tasks_file.read_bytes() == before


# compaction ------------------------------------------------------------------------------------


def test_compact_keeps_the_newest_and_says_how_many_went(tm: Tm) -> None:
    for title in ("a", "b", "c", "d"):
        tm.add(title)
    every = revisions(tm)
    assert len(every) == 4
    out = tm.ok("history", "--compact", "--keep", "2").stdout
    assert out == f"Dropped 2 journal entries; 2 kept (revisions {every[2]}-{every[3]}).\n"
    assert revisions(tm) == every[2:]
    assert tm.json("history", "--compact", "--keep", "2")["dropped"] == 0
    # a compacted revision can no longer be undone
    assert "no journal entry" in tm.fails(1, "undo", str(every[1])).stderr
    stats = tm.json("history", "--compact", "--keep", "1")
    assert (stats["dropped"], stats["entries"], stats["oldest"]) == (1, 1, every[3])


def test_the_retention_variables_reach_the_journal(tm: Tm) -> None:
    for title in ("a", "b", "c", "d"):
        tm.add(title)
    newest = revisions(tm)[-2:]
    env = {"TM_JOURNAL_KEEP": "2", "TM_JOURNAL_MAX_AGE": "30d"}
    result = tm("history", "--compact", "--json", env=env)
    assert result.exit_code == 0, result.output
    stats = orjson.loads(result.stdout)
    assert (stats["dropped"], stats["keep"], stats["max_age_s"]) == (2, 2, 30 * 86400)
    assert revisions(tm) == newest
    # the options win over the variables: an age no entry has reached, more to keep
    result = tm(
        "history",
        "--compact",
        "--keep",
        "5",
        "--max-age",
        "1h",
        "--json",
        env={"TM_JOURNAL_KEEP": "1", "TM_JOURNAL_MAX_AGE": "1s"},
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["dropped"] == 0
    assert revisions(tm) == newest


# bad input: exit 2, nothing written ------------------------------------------------------------

BAD_ARGUMENTS = [
    ("undo",),
    ("undo", "abc"),
    ("undo", "0"),
    ("undo", "-3"),
    ("undo", "1.5"),
    ("undo", "1_000"),
    ("undo", "9" * 30),
    ("history", "--since", "x"),
    ("history", "--since", "-1"),
    ("history", "--limit", "0"),
    ("history", "x.y"),
    ("history", "--keep", "3"),
    ("history", "--max-age", "1d"),
    ("history", "--compact", "--keep", "-1"),
    ("history", "--compact", "--max-age", "soon"),
    ("history", "--compact", "--max-age", "0"),
    ("history", "--compact", "--max-age", "nan"),
    ("history", "--compact", "1"),
    ("history", "--compact", "--actor", "bob"),
    ("--actor", "", "add-task", "--title", "x"),
    ("--actor", " ", "add-task", "--title", "x"),
    ("--actor", "two\nlines", "add-task", "--title", "x"),
    ("--actor", "x" * 201, "add-task", "--title", "x"),
]


@pytest.mark.parametrize("args", BAD_ARGUMENTS, ids=" ".join)
def test_bad_arguments_are_usage_errors_that_change_nothing(tm: Tm, args: tuple[str, ...]) -> None:
    tm.add("Ship")
    before = (tm.tasks_file.read_bytes(), revisions(tm))
    result = tm.fails(2, *args)
    assert "Traceback" not in result.output and "Error:" in result.stderr
    assert (tm.tasks_file.read_bytes(), revisions(tm)) == before


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TM_JOURNAL_KEEP", "many"),
        ("TM_JOURNAL_KEEP", "0"),
        ("TM_JOURNAL_MAX_AGE", "forever"),
        ("TM_JOURNAL_MAX_AGE", "-5"),
        ("TM_ACTOR", "a\tb"),
    ],
)
@pytest.mark.parametrize("command", [("add-task", "--title", "x"), ("history",)])
def test_bad_variables_are_usage_errors_that_change_nothing(
    tm: Tm, variable: str, value: str, command: tuple[str, ...]
) -> None:
    before = tm.tasks_file.read_bytes()
    result = tm(*command, env={variable: value})
    assert result.exit_code == 2, (result.output, result.exception)
    assert variable in result.stderr
    assert tm.tasks_file.read_bytes() == before


def test_tm_mcp_refuses_a_bad_retention_variable(tmp_path: Path) -> None:
    Tm.init(tmp_path)
    result = CliRunner().invoke(
        cli, ["--project", str(tmp_path), "mcp"], env={"TM_JOURNAL_KEEP": "lots"}
    )
    assert result.exit_code == 2 and "TM_JOURNAL_KEEP" in result.stderr


# the pieces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("2.5", 2.5),
        ("45s", 45),
        ("90m", 5400),
        ("12h", 43200),
        ("30d", 2592000),
        ("1d12h", 129600),
        (" 1H30M ", 5400),
    ],
)
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "0", "-1", "1w", "1h1d", "nan", "inf", "1e400", "12 h"])
def test_not_ages(text: str) -> None:
    with pytest.raises(InvalidInput, match="TM_JOURNAL_MAX_AGE"):
        parse_age(text)


def test_journal_settings_read_only_what_is_set() -> None:
    assert journal_settings({}) == {}
    assert journal_settings({"TM_JOURNAL_KEEP": " ", "TM_JOURNAL_MAX_AGE": ""}) == {}
    assert journal_settings({"TM_JOURNAL_KEEP": "500", "TM_JOURNAL_MAX_AGE": "12h"}) == {
        "journal_keep": 500,
        "journal_max_age_s": 43200.0,
    }


def test_actor_names() -> None:
    assert check_actor("  alice@laptop ") == "alice@laptop"
    assert check_actor("Zoë (review)") == "Zoë (review)"
    for bad in ("", "   ", "a\nb", "\x1b[31mred", "x" * 201):
        with pytest.raises(InvalidInput):
            check_actor(bad)


def test_every_kind_of_change_reads_as_one_line() -> None:
    changes = [
        {"tag": None, "id": None, "field": "currentTag", "before": "master", "after": "f"},
        {"tag": "f", "id": None, "field": None, "after": {"tasks": [{}, {}]}},
        {"tag": "old", "id": None, "field": None, "before": {"tasks": [{}]}},
        {"tag": "master", "id": None, "field": "#order", "before": [1, 2], "after": [2, 1]},
        {"tag": "master", "id": None, "field": "metadata.updated", "before": "a", "after": "b"},
        {"tag": "master", "id": "3", "field": "dependencies", "before": [], "after": [1, 2]},
        {"tag": "master", "id": "3", "field": "details", "after": "new"},
        {"tag": "master", "id": "3.1", "field": None, "index": 0, "before": {"title": "Sub"}},
        {"tag": "master", "id": "4", "field": "x", "before": {"a": 1}, "after": None},
    ]
    assert list(change_lines(changes, "master")) == [
        "current tag: master -> f",
        "+ tag f (2 tasks)",
        "- tag old (1 task)",
        "tag master order: 1,2 -> 2,1",
        "3 dependencies: [] -> 1,2",
        "3 details: (none) -> new",
        '- subtask 3.1 "Sub"',
        '4 x: {"a":1} -> null',
    ]
    # a change outside the entry's own tag says which tag
    assert list(change_lines([changes[5]], "feature")) == ["[master] 3 dependencies: [] -> 1,2"]


def test_an_entry_whose_earlier_content_was_lost_says_so() -> None:
    entry = {
        "revision": 7,
        "time": "2026-12-02T10:00:00.000Z",
        "actor": "outside",
        "via": "outside",
        "kind": "external",
        "changes": [],
        "unknown": "the content before this change was not kept",
    }
    assert entry_lines(entry) == [
        "revision 7  2026-12-02 10:00:00 UTC  outside (outside)",
        "  changed outside Task Master (an editor, another tool)",
        "  (what it changed is unknown: the content before this change was not kept)",
    ]


# the installed `tm`, on a file and on PostgreSQL -----------------------------------------------


def _run(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}
    return subprocess.run(
        [TM, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**clean, "NO_COLOR": "1", **(env or {})},
        timeout=60,
    )


def _journey(cwd: Path, *init: str) -> None:
    """Two people write, one's change is undone, a refused undo writes nothing."""

    def ok(*args: str, actor: str | None = None) -> str:
        proc = _run(*args, cwd=cwd, env={"TM_ACTOR": actor} if actor else None)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout

    def history() -> dict[str, Any]:
        document: dict[str, Any] = orjson.loads(ok("history", "--json"))
        return document

    ok("init", *init)
    ok("add-task", "-t", "Ship", actor="alice")
    ok("set-status", "1", "in-progress", actor="bob")
    ok("--actor", "carol", "update-task", "1", "-d", "carol's")
    journal = history()
    shown = [(e["actor"], e["via"], e.get("command")) for e in journal["entries"]]
    assert shown == [
        ("alice", "cli", "add-task"),
        ("bob", "cli", "set-status"),
        ("carol", "cli", "update-task"),
    ]
    add, status, update = (e["revision"] for e in journal["entries"])
    assert journal["revision"] == update
    assert "1 status: pending -> in-progress" in ok("history", "1")

    refused = _run("undo", str(add), cwd=cwd)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith(f"Error: cannot undo revision {add}: later changes")
    assert history()["revision"] == update

    undone = orjson.loads(ok("undo", str(status), "--json"))
    assert undone["undone"] == status and undone["revision"] > update
    shown_task = orjson.loads(ok("show", "1", "--json"))
    assert (shown_task["status"], shown_task["description"]) == ("pending", "carol's")
    assert _run("undo", "zero", cwd=cwd).returncode == 2
    missing = _run("undo", str(undone["revision"] + 1000), cwd=cwd)
    assert missing.returncode == 1 and "no journal entry" in missing.stderr
    assert history()["revision"] == undone["revision"]

    out = ok("history", "--compact", "--keep", "2")
    assert out.startswith("Dropped 2 journal entries; 2 kept")
    assert len(history()["entries"]) == 2


def test_the_console_script_on_a_task_file(tmp_path: Path) -> None:
    _journey(tmp_path)


@pytest.mark.slow
def test_the_console_script_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    _journey(tmp_path, "--storage", postgres_url)
    assert not (tmp_path / ".taskmaster" / "tasks.json").exists()


def test_a_stale_write_back_by_another_tool_is_flagged_as_reverting(tm: Tm) -> None:
    tm.ok("add-task", "--title", "one")
    stale = tm.tasks_file.read_bytes()  # the other tool reads before our commit...
    tm.ok("set-status", "1", "done")
    reverted = revisions(tm)[-1]
    temporary = tm.tasks_file.with_name("tasks.json.tmp.7")
    temporary.write_bytes(stale)  # ...and writes its copy back after it
    os.replace(temporary, tm.tasks_file)
    out = tm.ok("history").stdout
    external = blocks(out)[-1]
    assert "changed outside Task Master" in external
    assert f"  ! reverted revision {reverted}: 1 status" in external.splitlines()
    (entry,) = [e for e in entries(tm) if e["kind"] == "external"]
    assert entry["reverts"] == [
        {"revision": reverted, "tag": "master", "id": "1", "field": "status"}
    ]
