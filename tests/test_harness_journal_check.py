"""`journal-agrees` on a real project's journal and document, then on broken copies of them:
each way the journal and the document can disagree is reported, the agreeing pair passes."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checker import check
from harness.history import OBSERVE, OK, WRITE, Op
from harness.journal_check import JOURNAL_CHANNEL, digest, journal_record
from taskmaster.commands import AddTask, SetStatus, UpdateTask
from taskmaster.compose import init_project, open_project

_ids = itertools.count()
CONFIG = {"target": "safe", "invariants": ["journal-agrees"]}


def _op(kind: str, **values: Any) -> Op:
    values.setdefault("actor", "a")
    return Op(id=f"op{next(_ids)}", kind=kind, start=next(_ids), end=next(_ids), **values)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Op], dict[str, Any]]]:
    """Writes on a real project (two of them acknowledged adds, as a run records them), and
    the journal record the runner would take at the end."""
    root = tmp_path_factory.mktemp("journal")
    init_project(root)[0].close()
    project = open_project(root)
    core = project.core
    writes = []
    for token in ("tok-a", "tok-b"):
        commit = core.execute(AddTask(values={"title": token, "details": "x" * 300}))
        writes.append(_op(WRITE, key=f"add/{token}", outcome=OK, revision=commit.revision))
    core.execute(SetStatus(ids=("1",), status="done"))
    core.execute(UpdateTask(id="2", fields={"priority": "high"}))
    assert project.paths is not None
    document = json.loads(project.paths.tasks_file.read_bytes())
    record = journal_record(core.storage.history(0), document, [])
    project.close()
    yield writes, record


def _check(writes: list[Op], record: dict[str, Any], config: dict[str, Any] = CONFIG) -> Any:
    ops = [*writes, _op(OBSERVE, channel=JOURNAL_CHANNEL, value=record)]
    return check(ops, ["journal-agrees"], config)


def test_a_journal_that_agrees_with_the_document_passes(run: Any) -> None:
    writes, record = run
    result = _check(writes, record)
    assert result.ok, result.violations
    assert len(record["entries"]) == 4
    assert "sha256:" in json.dumps(record["document"])  # the long details went in digested


def test_an_acknowledged_write_without_its_entry_is_reported(run: Any) -> None:
    writes, record = run
    broken = copy.deepcopy(record)
    del broken["entries"][1]  # tok-b's entry gone (the task stays in the document)
    messages = [v.message for v in _check(writes, broken).violations]
    assert any("'tok-b' has no journal entry" in m for m in messages), messages
    assert any("no journal entry added it" in m for m in messages), messages


def test_an_entry_at_another_revision_than_the_write_committed_is_reported(run: Any) -> None:
    writes, record = run
    broken = copy.deepcopy(record)
    broken["entries"][0]["revision"] += 1
    messages = [v.message for v in _check(writes, broken).violations]
    assert any("but its journal entry is at" in m for m in messages), messages


def test_an_entry_for_a_commit_that_never_happened_is_reported(run: Any) -> None:
    writes, record = run
    broken = copy.deepcopy(record)
    ghost = copy.deepcopy(broken["entries"][0])
    ghost["revision"] = broken["entries"][-1]["revision"] + 1
    for change in ghost["changes"]:
        if change.get("field") is None and change.get("id") is not None:
            change["id"] = "99"
            change["after"] = {**change["after"], "id": 99, "title": "ghost"}
    broken["entries"].append(ghost)
    messages = [v.message for v in _check(writes, broken).violations]
    assert any("master 99 (whole)" in m and "holds nothing" in m for m in messages), messages


def test_a_last_change_the_document_does_not_hold_is_reported(run: Any) -> None:
    writes, record = run
    broken = copy.deepcopy(record)
    tasks = broken["document"]["master"]["tasks"]
    tasks[0]["status"] = "pending"  # the journal's last change set it to done
    messages = [v.message for v in _check(writes, broken).violations]
    assert any("master 1 status" in m and '"done"' in m for m in messages), messages


def test_revisions_that_do_not_increase_are_reported(run: Any) -> None:
    writes, record = run
    broken = copy.deepcopy(record)
    broken["entries"][3]["revision"] = broken["entries"][2]["revision"]
    messages = [v.message for v in _check(writes, broken).violations]
    assert any("follows" in m for m in messages), messages


def test_a_run_without_a_journal_record_fails_and_the_baseline_is_not_asked(run: Any) -> None:
    writes, _ = run
    missing = check(writes, ["journal-agrees"], CONFIG)
    assert [v.message for v in missing.violations] == ["the run recorded no journal to check"]
    baseline = check(writes, ["journal-agrees"], {**CONFIG, "target": "baseline"})
    assert baseline.ok


def test_digest_keeps_short_values_and_equal_long_ones_equal() -> None:
    assert digest({"a": ["x", 1, None]}) == {"a": ["x", 1, None]}
    long = "y" * 100
    assert digest(long) == digest("y" * 100) != digest("y" * 101)
    assert str(digest(long)).startswith("sha256:")


def test_a_journal_that_could_not_be_read_is_reported(tmp_path: Path) -> None:
    ops = [_op(OBSERVE, channel=JOURNAL_CHANNEL, value={"error": "OSError: gone"})]
    (violation,) = check(ops, ["journal-agrees"], CONFIG).violations
    assert violation.anomaly == "journal-mismatch" and "gone" in violation.message
