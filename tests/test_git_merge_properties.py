"""Properties of the three-way merge over generated task documents (`strategies.documents`):
unknown keys at every level, subtasks, dependencies, several tags."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import documents, json_values, make_task, statuses

from taskmaster.git.merge import MISSING, merge, same
from taskmaster.model import Document

Edit = Callable[[dict[str, Any]], None]
SIDES = ("ours", "theirs")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def data_of(doc: Document) -> dict[str, Any]:
    return copy.deepcopy(doc.data)


@PROPERTY
@given(doc=documents())
def test_merging_a_document_with_itself_changes_nothing(doc: Document) -> None:
    result = merge(doc, doc, doc)
    assert result.clean and not result.renumbered
    assert same(result.document.data, doc.data)
    assert result.to_json() == doc.to_json()  # key order and task order too


@PROPERTY
@given(base=documents(), ours=documents())
def test_when_both_sides_agree_the_result_is_that_side(base: Document, ours: Document) -> None:
    result = merge(base, ours, ours)
    assert result.clean and not result.renumbered
    assert result.to_json() == ours.to_json()


@PROPERTY
@given(base=documents(), theirs=documents())
def test_when_only_one_side_changed_the_result_is_that_side(
    base: Document, theirs: Document
) -> None:
    for result, side in ((merge(base, base, theirs), theirs), (merge(base, theirs, base), theirs)):
        assert result.clean and not result.renumbered
        assert same(result.document.data, side.data)


def _field_edit(tag: str, task_id: int, key: str, value: Any) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        next(t for t in data[tag]["tasks"] if t["id"] == task_id)[key] = value

    return apply


def _removal(tag: str, task_id: int) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        data[tag]["tasks"] = [t for t in data[tag]["tasks"] if t["id"] != task_id]

    return apply


def _subtask_edit(tag: str, task_id: int, sub_id: int, value: str) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        task = next(t for t in data[tag]["tasks"] if t["id"] == task_id)
        next(s for s in task["subtasks"] if s["id"] == sub_id)["title"] = value

    return apply


def _tag_edit(tag: str, key: str, value: Any) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        data[tag]["metadata"][key] = value

    return apply


def _addition(tag: str, title: str) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        tasks = data[tag]["tasks"]
        tasks.append(make_task(max((t["id"] for t in tasks), default=0) + 1, title=title))

    return apply


def _new_tag(name: str) -> Edit:
    def apply(data: dict[str, Any]) -> None:
        data[name] = {"tasks": [make_task(1, title=name)], "metadata": {}}

    return apply


@st.composite
def disjoint_edits(draw: st.DrawFn) -> tuple[Document, list[Edit], list[Edit]]:
    """A base and two lists of edits that touch different places: each task (or each field
    of a task, each subtask, each tag's metadata key) is edited by one side at most."""
    base = draw(documents())
    edits: dict[str, list[Edit]] = {"ours": [], "theirs": []}
    owner = st.sampled_from([None, "ours", "theirs"])
    for tag in base.tag_names():
        for key in ("description", "x-note"):
            side = draw(owner)
            if side:
                edits[side].append(_tag_edit(tag, key, f"{side} {key}"))
        for task in base.tasks(tag):
            action = draw(st.sampled_from(["none", "remove", "edit", "edit"]))
            if action == "remove":
                edits[draw(st.sampled_from(SIDES))].append(_removal(tag, task["id"]))
                continue
            if action == "none":
                continue
            values = {
                "title": st.just("edited"),
                "status": statuses,
                "details": st.text(max_size=5),
                "x-unknown": json_values,
            }
            for key, values_of in values.items():
                side = draw(owner)
                if side:
                    edits[side].append(_field_edit(tag, task["id"], key, draw(values_of)))
            for sub in task["subtasks"]:
                side = draw(owner)
                if side:
                    edits[side].append(_subtask_edit(tag, task["id"], sub["id"], side))
    # Additions by one side only (both adding would renumber: a property of its own below).
    for _ in range(draw(st.integers(0, 2))):
        edits["ours"].append(_addition("master", "added by ours"))
    if draw(st.booleans()):
        edits["theirs"].append(_new_tag("theirs-new"))
    return base, edits["ours"], edits["theirs"]


def applied(data: dict[str, Any], *edit_lists: list[Edit]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for edits in edit_lists:
        for edit in edits:
            edit(data)
    return data


@PROPERTY
@given(case=disjoint_edits())
def test_merging_edits_of_different_places_applies_both(
    case: tuple[Document, list[Edit], list[Edit]],
) -> None:
    base, ours_edits, theirs_edits = case
    ours = applied(base.data, ours_edits)
    theirs = applied(base.data, theirs_edits)
    result = merge(base, ours, theirs)
    assert result.conflicts == [] and result.renumbered == []
    assert same(result.document.data, applied(base.data, ours_edits, theirs_edits))
    # And the other way round: the same content (ours' order of tasks is the same here).
    assert same(merge(base, theirs, ours).document.data, result.document.data)


@PROPERTY
@given(
    base=documents(),
    ours_count=st.integers(1, 3),
    theirs_count=st.integers(1, 3),
)
def test_both_sides_adding_tasks_keeps_all_with_unique_ids_and_their_references(
    base: Document, ours_count: int, theirs_count: int
) -> None:
    sides = {}
    for side, count in (("ours", ours_count), ("theirs", theirs_count)):
        data = data_of(base)
        tasks = data["master"]["tasks"]
        first = max((t["id"] for t in tasks), default=0) + 1
        for n in range(count):
            # Each new task depends on the one its side added before it (and its subtask).
            deps = [first + n - 1, f"{first + n - 1}.1"] if n else []
            task = make_task(first + n, *deps, title=f"{side} {n}")
            task["subtasks"] = [{"id": 1, "title": f"{side} {n}.1", "parentTaskId": first + n}]
            tasks.append(task)
        sides[side] = data
    result = merge(base, sides["ours"], sides["theirs"])
    assert result.clean
    assert len(result.renumbered) == min(ours_count, theirs_count)
    merged = result.document.tasks("master")
    merged_ids = [t["id"] for t in merged]
    assert (
        len(set(merged_ids))
        == len(merged_ids)
        == len(base.tasks("master")) + (ours_count + theirs_count)
    )
    titles = {t["id"]: t["title"] for t in merged}
    for task in merged:
        side, _, number = task["title"].partition(" ")
        if side not in SIDES:
            continue
        assert task["subtasks"][0]["parentTaskId"] == task["id"]
        if number != "0":
            earlier = f"{side} {int(number) - 1}"
            dep, dotted = task["dependencies"]
            assert titles[dep] == earlier and dotted == f"{dep}.1"
    # Other tags are the base's, untouched.
    for tag in base.tag_names():
        if tag != "master":
            assert same(result.document.data[tag], base.data[tag])


@PROPERTY
@given(base=documents(), ours=documents(), theirs=documents())
def test_any_three_documents_merge_into_a_valid_file_with_unique_ids(
    base: Document, ours: Document, theirs: Document
) -> None:
    result = merge(base, ours, theirs)
    reread = Document.from_json(result.to_json())
    for tag in reread.tag_names():
        task_ids = [task["id"] for task in reread.tasks(tag)]
        assert len(task_ids) == len(set(task_ids)), tag
        for task in reread.tasks(tag):
            sub_ids = [sub["id"] for sub in task.get("subtasks") or ()]
            assert len(sub_ids) == len(set(sub_ids)), (tag, task["id"])
    # Every conflict kept ours' value: where ours has a tag or task, the result has it too.
    for conflict in result.conflicts:
        if conflict.item is None and conflict.field == "" and conflict.tag is not None:
            assert (conflict.tag in reread.data) == (conflict.ours is not MISSING)
