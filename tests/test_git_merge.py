"""The three-way merge of task files (`taskmaster.git.merge`), case by case."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from strategies import make_subtask, make_task

from taskmaster.errors import CorruptTaskFile, NotATaskFile
from taskmaster.git.merge import MISSING, MergeError, merge, same, shorten
from taskmaster.model import Document


def tagged(*tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"master": {"tasks": list(tasks), "metadata": {}}, **extra}


def edited(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


def master(result: Any, tag: str = "master") -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = result.document.data[tag]["tasks"]
    return tasks


def ids(result: Any, tag: str = "master") -> list[int]:
    return [task["id"] for task in master(result, tag)]


def by_id(result: Any, task_id: int, tag: str = "master") -> dict[str, Any]:
    return next(task for task in master(result, tag) if task["id"] == task_id)


BASE = tagged(make_task(1), make_task(2, 1), make_task(3))


# fields -------------------------------------------------------------------------------------------


def test_nothing_changed_is_the_same_document() -> None:
    result = merge(BASE, BASE, BASE)
    assert result.clean and not result.renumbered
    assert result.document.data == BASE


def test_a_field_changed_on_one_side_takes_that_side() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    ours["master"]["tasks"][0]["title"] = "Ours"
    theirs["master"]["tasks"][1]["status"] = "done"
    theirs["master"]["tasks"][0]["priority"] = "high"
    result = merge(BASE, ours, theirs)
    assert result.clean
    assert by_id(result, 1)["title"] == "Ours"
    assert by_id(result, 1)["priority"] == "high"
    assert by_id(result, 2)["status"] == "done"


def test_a_field_changed_identically_on_both_sides_is_no_conflict() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    for side in (ours, theirs):
        side["master"]["tasks"][2]["status"] = "done"
    result = merge(BASE, ours, theirs)
    assert result.clean and by_id(result, 3)["status"] == "done"


def test_a_field_changed_differently_is_a_conflict_and_ours_stays() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    ours["master"]["tasks"][0]["title"] = "Ours"
    theirs["master"]["tasks"][0]["title"] = "Theirs"
    theirs["master"]["tasks"][0]["details"] = "more"  # another field: no conflict
    result = merge(BASE, ours, theirs)
    assert not result.clean
    [conflict] = result.conflicts
    assert (conflict.tag, conflict.item, conflict.field) == ("master", "1", "title")
    assert (conflict.base, conflict.ours, conflict.theirs) == ("Task 1", "Ours", "Theirs")
    assert conflict.describe() == 'tag \'master\', task 1, title: ours "Ours" vs theirs "Theirs"'
    assert by_id(result, 1)["title"] == "Ours" and by_id(result, 1)["details"] == "more"
    # Still a valid task file, written as the project writes it.
    assert Document.from_json(result.to_json()).data == result.document.data
    assert result.to_dict()["conflicts"][0] == {
        "tag": "master",
        "id": "1",
        "field": "title",
        "base": "Task 1",
        "ours": "Ours",
        "theirs": "Theirs",
    }


def test_nested_objects_merge_key_by_key_and_conflict_per_key() -> None:
    base = tagged(make_task(1, metadata={"owner": "a", "size": 1, "labels": ["x"]}))
    ours, theirs = edited(base), edited(base)
    ours["master"]["tasks"][0]["metadata"].update(owner="ours", labels=["x", "o"])
    theirs["master"]["tasks"][0]["metadata"].update(size=2, labels=["x", "t"], new=True)
    result = merge(base, ours, theirs)
    assert by_id(result, 1)["metadata"] == {
        "owner": "ours",
        "size": 2,
        "labels": ["x", "o"],  # a list changed differently on both: a conflict, ours kept
        "new": True,
    }
    [conflict] = result.conflicts
    assert conflict.field == "metadata.labels"


def test_json_types_are_compared_exactly() -> None:
    assert not same(1, True) and not same(1, 1.0) and same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    base = tagged(make_task(1, flag=1))
    ours, theirs = edited(base), edited(base)
    ours["master"]["tasks"][0]["flag"] = True
    theirs["master"]["tasks"][0]["flag"] = 1.0
    assert [c.field for c in merge(base, ours, theirs).conflicts] == ["flag"]


def test_dependencies_merge_as_sets() -> None:
    base = tagged(make_task(1), make_task(2), make_task(3), make_task(4, 1, 2))
    ours, theirs = edited(base), edited(base)
    ours["master"]["tasks"][3]["dependencies"] = [2, 3]  # removes 1, adds 3
    theirs["master"]["tasks"][3]["dependencies"] = [1, 2, "3.1"]  # adds "3.1"
    result = merge(base, ours, theirs)
    assert result.clean
    assert by_id(result, 4)["dependencies"] == [2, 3, "3.1"]
    theirs["master"]["tasks"][3]["dependencies"] = [1]  # removes 2
    assert by_id(merge(base, ours, theirs), 4)["dependencies"] == [3]


def test_timestamps_take_the_later_update_and_the_earlier_creation() -> None:
    base = tagged(make_task(1, updatedAt="2025-01-01T00:00:00Z"))
    base["master"]["metadata"] = {"created": "2025-01-01T00:00:00Z", "updated": "2025-01-01"}
    ours, theirs = edited(base), edited(base)
    ours["master"]["metadata"]["updated"] = "2025-03-01T10:00:00.000Z"
    theirs["master"]["metadata"]["updated"] = "2025-02-01T10:00:00.000Z"
    ours["master"]["tasks"][0]["updatedAt"] = "2025-02-01T00:00:00+01:00"
    theirs["master"]["tasks"][0]["updatedAt"] = "2025-01-31T23:30:00Z"  # later instant
    result = merge(base, ours, theirs)
    assert result.clean
    assert result.document.data["master"]["metadata"]["updated"] == "2025-03-01T10:00:00.000Z"
    assert by_id(result, 1)["updatedAt"] == "2025-01-31T23:30:00Z"


# tasks ----------------------------------------------------------------------------------------


def test_tasks_added_on_one_side_are_kept_where_that_side_has_them() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    theirs["master"]["tasks"].insert(1, make_task(7, 1))  # between 1 and 2
    ours["master"]["tasks"].append(make_task(4))
    result = merge(BASE, ours, theirs)
    assert result.clean and not result.renumbered
    assert ids(result) == [1, 7, 2, 3, 4]


def test_both_sides_adding_at_the_end_keeps_ours_first() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    ours["master"]["tasks"] += [make_task(4), make_task(5)]
    theirs["master"]["tasks"] += [make_task(6), make_task(7)]
    assert ids(merge(BASE, ours, theirs)) == [1, 2, 3, 4, 5, 6, 7]


def test_ours_order_wins_when_a_side_moved_tasks() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    tasks = ours["master"]["tasks"]
    tasks.insert(0, tasks.pop())  # 3 moved to the top
    theirs["master"]["tasks"].reverse()
    assert ids(merge(BASE, ours, theirs)) == [3, 1, 2]
    assert ids(merge(BASE, BASE, theirs)) == [3, 2, 1]  # only theirs moved: theirs' order


def test_a_task_removed_on_one_side_and_unchanged_on_the_other_is_removed() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    del theirs["master"]["tasks"][2]
    del ours["master"]["tasks"][0]
    result = merge(BASE, ours, theirs)
    assert result.clean and ids(result) == [2]


@pytest.mark.parametrize("remover", ["ours", "theirs"])
def test_a_task_removed_on_one_side_and_edited_on_the_other_is_a_conflict(remover: str) -> None:
    ours, theirs = edited(BASE), edited(BASE)
    removing, editing = (ours, theirs) if remover == "ours" else (theirs, ours)
    del removing["master"]["tasks"][1]
    editing["master"]["tasks"][1]["title"] = "Edited"
    result = merge(BASE, ours, theirs)
    [conflict] = result.conflicts
    assert (conflict.item, conflict.field) == ("2", "")
    assert (conflict.ours is MISSING) == (remover == "ours")
    # Ours' choice stays: removed if ours removed it, the edited task if ours edited it.
    assert ids(result) == ([1, 3] if remover == "ours" else [1, 2, 3])
    assert "(removed)" in conflict.describe() and "(the task 'Edited')" in conflict.describe()


def test_the_same_task_added_on_both_sides_is_kept_once() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    for side in (ours, theirs):
        side["master"]["tasks"].append(make_task(4, 1))
    result = merge(BASE, ours, theirs)
    assert result.clean and not result.renumbered and ids(result) == [1, 2, 3, 4]


# renumbering ----------------------------------------------------------------------------------


def test_both_sides_adding_the_same_id_renumbers_theirs_and_rewrites_its_references() -> None:
    other = [make_task(4, title="Other tag's 4"), make_task(5, 4)]
    base = tagged(make_task(1), make_task(2), make_task(3), other=other)
    ours, theirs = edited(base), edited(base)
    ours["master"]["tasks"].append(make_task(4, 1, title="Ours' 4"))
    theirs_new = [
        make_task(4, 1, title="Theirs' 4", subtasks=[make_subtask(1, 4), make_subtask(2, 4, 1)]),
        make_task(5, 4, "4.2", title="Theirs' 5"),
    ]
    theirs["master"]["tasks"] += theirs_new
    theirs["master"]["tasks"][1]["dependencies"] = [4, "4.1"]  # a changed task refers to it
    theirs["master"]["tasks"][1]["title"] = "Changed"
    result = merge(base, ours, theirs)
    assert result.clean
    # Only 4 clashes (ours has no 5); it goes after the largest merged id, 5.
    assert [(r.tag, r.old, r.new) for r in result.renumbered] == [("master", "4", "6")]
    assert ids(result) == [1, 2, 3, 4, 6, 5]
    assert by_id(result, 4)["title"] == "Ours' 4"
    moved = by_id(result, 6)
    assert moved["title"] == "Theirs' 4" and moved["dependencies"] == [1]
    assert [sub["parentTaskId"] for sub in moved["subtasks"]] == [6, 6]
    assert moved["subtasks"][1]["dependencies"] == [1]  # a sibling: bare numbers stay
    assert by_id(result, 5)["dependencies"] == [6, "6.2"]
    assert by_id(result, 2)["dependencies"] == [6, "6.1"]
    # Ours' own references to its task 4 are ours' task 4: untouched. Other tags too.
    assert result.document.data["other"] == base["other"]
    assert "tag 'master': theirs' new task 4 is now 6" in [r.describe() for r in result.renumbered]


def test_renumbering_starts_after_the_merged_tags_largest_id() -> None:
    base = tagged(make_task(1), make_task(8))
    ours, theirs = edited(base), edited(base)
    ours["master"]["tasks"] += [make_task(9, title="o9"), make_task(10, title="o10")]
    theirs["master"]["tasks"] += [make_task(9, title="t9"), make_task(12, title="t12")]
    result = merge(base, ours, theirs)
    # 12 is only theirs: kept; 9 clashes and goes after the largest merged id (12).
    assert [(r.old, r.new) for r in result.renumbered] == [("9", "13")]
    assert ids(result) == [1, 8, 9, 10, 13, 12]
    assert by_id(result, 13)["title"] == "t9"


def test_subtasks_merge_per_subtask_and_clashing_new_ones_are_renumbered() -> None:
    parent = make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1)])
    base = tagged(parent, make_task(2, "1.1"))
    ours, theirs = edited(base), edited(base)
    ours_parent, theirs_parent = ours["master"]["tasks"][0], theirs["master"]["tasks"][0]
    ours_parent["subtasks"][0]["status"] = "done"
    theirs_parent["subtasks"][1]["title"] = "Theirs' title"
    ours_parent["subtasks"].append(make_subtask(3, 1, title="Ours' 1.3"))
    theirs_parent["subtasks"].append(make_subtask(3, 1, 1, title="Theirs' 1.3"))
    theirs_parent["subtasks"].append(make_subtask(4, 1, 3, title="Theirs' 1.4"))
    theirs["master"]["tasks"][1]["dependencies"] = ["1.1", "1.3"]
    result = merge(base, ours, theirs)
    assert result.clean
    assert [(r.old, r.new) for r in result.renumbered] == [("1.3", "1.5")]
    subs = {sub["id"]: sub for sub in by_id(result, 1)["subtasks"]}
    assert [sub["id"] for sub in by_id(result, 1)["subtasks"]] == [1, 2, 3, 5, 4]
    assert subs[1]["status"] == "done" and subs[2]["title"] == "Theirs' title"
    assert subs[3]["title"] == "Ours' 1.3" and subs[5]["title"] == "Theirs' 1.3"
    assert subs[4]["dependencies"] == [5]  # theirs' sibling reference followed
    assert by_id(result, 2)["dependencies"] == ["1.1", "1.5"]


def test_a_subtask_field_changed_differently_is_a_subtask_conflict() -> None:
    base = tagged(make_task(1, subtasks=[make_subtask(1, 1)]))
    ours, theirs = edited(base), edited(base)
    ours["master"]["tasks"][0]["subtasks"][0]["status"] = "done"
    theirs["master"]["tasks"][0]["subtasks"][0]["status"] = "blocked"
    [conflict] = merge(base, ours, theirs).conflicts
    assert (conflict.item, conflict.field) == ("1.1", "status")
    assert conflict.place() == "tag 'master', subtask 1.1, status"


# tags, unknown keys, flat files ----------------------------------------------------------------


def test_tags_added_removed_and_edited() -> None:
    base = tagged(make_task(1), gone={"tasks": [], "metadata": {}}, kept={"tasks": []})
    ours, theirs = edited(base), edited(base)
    del ours["gone"]
    theirs["new"] = {"tasks": [make_task(1)], "metadata": {"description": "theirs"}}
    theirs["kept"]["tasks"].append(make_task(1))
    result = merge(base, ours, theirs)
    assert result.clean
    assert list(result.document.data) == ["master", "kept", "new"]
    assert ids(result, "kept") == [1] and ids(result, "new") == [1]


def test_a_tag_removed_on_one_side_and_edited_on_the_other_is_a_conflict() -> None:
    base = tagged(make_task(1), feature={"tasks": [make_task(1)]})
    ours, theirs = edited(base), edited(base)
    del theirs["feature"]
    ours["feature"]["tasks"][0]["status"] = "done"
    result = merge(base, ours, theirs)
    [conflict] = result.conflicts
    assert (conflict.tag, conflict.item, conflict.field) == ("feature", None, "")
    assert "feature" in result.document.data
    assert "(the tag, 1 tasks)" in conflict.describe()


def test_a_tag_added_on_both_sides_merges_its_tasks() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    ours["x"] = {"tasks": [make_task(1, title="o")], "metadata": {"created": "2025-02-01"}}
    theirs["x"] = {"tasks": [make_task(1, title="t")], "metadata": {"created": "2025-01-01"}}
    result = merge(BASE, ours, theirs)
    assert result.clean and [(r.tag, r.old, r.new) for r in result.renumbered] == [("x", "1", "2")]
    assert [t["title"] for t in master(result, "x")] == ["o", "t"]
    assert result.document.data["x"]["metadata"]["created"] == "2025-01-01"


def test_unknown_keys_at_every_level_are_merged_like_fields() -> None:
    sub = make_subtask(1, 1, sx=0)
    base = tagged(make_task(1, subtasks=[sub], tx=0), top=0)
    base["master"]["metadata"]["mx"] = 0
    base["master"]["gx"] = 0
    ours, theirs = edited(base), edited(base)
    ours["top"] = 1
    ours["master"]["gx"] = 1
    theirs["master"]["metadata"]["mx"] = 1
    theirs["master"]["tasks"][0]["tx"] = 1
    theirs["master"]["tasks"][0]["subtasks"][0]["sx"] = 1
    theirs["added"] = {"any": ["thing"]}
    ours["master"]["tasks"][0]["ours_only"] = None
    result = merge(base, ours, theirs)
    assert result.clean
    data = result.document.data
    assert data["top"] == 1 and data["added"] == {"any": ["thing"]}
    assert data["master"]["gx"] == 1 and data["master"]["metadata"]["mx"] == 1
    task = by_id(result, 1)
    assert task["tx"] == 1 and task["subtasks"][0]["sx"] == 1 and task["ours_only"] is None
    theirs["top"] = 2
    [conflict] = merge(base, ours, theirs).conflicts
    assert (conflict.tag, conflict.item, conflict.field) == (None, None, "top")
    assert conflict.place() == "top"


def test_flat_files_stay_flat() -> None:
    base = {"tasks": [make_task(1)], "metadata": {"projectName": "p"}, "extra": 1}
    ours, theirs = edited(base), edited(base)
    ours["tasks"].append(make_task(2, title="o"))
    theirs["tasks"].append(make_task(2, title="t"))
    theirs["extra"] = 2
    result = merge(base, ours, theirs)
    assert result.document.flat and result.clean
    assert [t["id"] for t in result.document.data["tasks"]] == [1, 2, 3]
    assert result.document.data["extra"] == 2
    assert [(r.tag, r.old, r.new) for r in result.renumbered] == [("master", "2", "3")]


def test_a_flat_file_that_one_side_gave_a_second_tag_becomes_tagged() -> None:
    base = {"tasks": [make_task(1)], "metadata": {}}
    ours = edited(base)
    ours["tasks"][0]["status"] = "done"
    theirs = {"master": edited(base), "feature": {"tasks": [], "metadata": {}}}
    result = merge(base, ours, theirs)
    assert not result.document.flat and result.clean
    assert list(result.document.data) == ["master", "feature"]
    assert by_id(result, 1)["status"] == "done"


# inputs ---------------------------------------------------------------------------------------


def test_bytes_in_and_the_projects_format_out() -> None:
    raw = Document.from_data(edited(BASE)).to_json()
    theirs = edited(BASE)
    theirs["master"]["tasks"][0]["id"] = "1"  # a string id, as some writers store it
    result = merge(raw, raw, orjson.dumps(theirs))
    assert result.clean
    assert result.to_json() == raw  # 2-space JSON, a final newline, integer ids


def test_an_empty_base_means_the_file_was_added_on_both_sides() -> None:
    ours, theirs = tagged(make_task(1, title="o")), tagged(make_task(1, title="t"))
    result = merge(b"", ours, theirs)
    assert result.clean and [t["title"] for t in master(result)] == ["o", "t"]


def test_the_inputs_are_not_modified() -> None:
    ours, theirs = edited(BASE), edited(BASE)
    ours["master"]["tasks"].append(make_task(4, title="o"))
    theirs["master"]["tasks"].append(make_task(4, 1, title="t"))
    before = copy.deepcopy((ours, theirs))
    merge(BASE, ours, theirs)
    assert (ours, theirs) == before


def test_a_side_that_is_no_task_file_is_refused_naming_it() -> None:
    with pytest.raises(CorruptTaskFile, match=r"theirs \(the branch being merged\)"):
        merge(b"{}", b'{"master": {"tasks": []}}', b'{"master": {"tasks": [}')
    with pytest.raises(NotATaskFile, match="ours"):
        merge(b"", b'{"name": "package.json"}', BASE)
    with pytest.raises(CorruptTaskFile, match="empty"):
        merge(BASE, b"  \n", BASE)


def test_two_tasks_with_one_id_on_a_side_cannot_be_merged_by_id() -> None:
    ours = tagged(make_task(1), make_task(1))
    theirs = edited(BASE)
    theirs["master"]["tasks"].pop()
    with pytest.raises(MergeError, match="two items with id 1"):
        merge(BASE, ours, theirs)
    # Nothing to merge when theirs did not change: ours is the result as it is.
    assert merge(BASE, ours, BASE).document.data == ours


def test_values_are_shortened_to_one_line() -> None:
    assert shorten("a\nb " * 30, 20) == '"a\\nb a\\nb a\\nb a...'
    assert len(shorten(list(range(100)), 20)) == 20
    assert shorten(MISSING) == "(removed)"


def test_a_dependency_on_what_the_other_side_removed_is_reported_as_dangling() -> None:
    parent = make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1)])
    base = tagged(parent, make_task(2), make_task(3, 2), make_task(9, 8))  # 9 -> 8: dangling
    ours, theirs = edited(base), edited(base)
    # Ours removes task 2 and subtask 1.2 as tm does: dependencies on them go too.
    del ours["master"]["tasks"][1]
    ours["master"]["tasks"][1]["dependencies"] = []
    del ours["master"]["tasks"][0]["subtasks"][1]
    # Theirs makes new things depend on them.
    theirs["master"]["tasks"].append(make_task(4, 2, "1.2", title="new"))
    theirs["master"]["tasks"][0]["subtasks"].append(make_subtask(3, 1, 2))
    result = merge(base, ours, theirs)
    assert result.conflicts == [] and not result.clean
    assert [(d.tag, d.item, d.dependency) for d in result.dangling] == [
        ("master", "1.3", "2"),
        ("master", "4", "1.2"),
        ("master", "4", "2"),
    ]
    assert result.dangling[0].describe() == (
        "tag 'master', subtask 1.3: depends on 2, which the merge left out (one side removed "
        "it, the other depends on it)"
    )
    assert by_id(result, 3)["dependencies"] == []  # ours' removal of the dependency applied
    assert result.to_dict()["dangling"][2] == {"tag": "master", "id": "4", "dependency": "2"}


def test_timestamps_in_different_zones_compare_as_instants() -> None:
    base = tagged(make_task(1, updatedAt="2025-01-01T00:00:00Z"))
    ours, theirs = edited(base), edited(base)
    ours["master"]["tasks"][0]["updatedAt"] = "2025-01-01T12:00:00"  # no zone: read as UTC
    theirs["master"]["tasks"][0]["updatedAt"] = "2025-01-01T11:00:00-02:00"  # 13:00 UTC
    assert by_id(merge(base, ours, theirs), 1)["updatedAt"] == "2025-01-01T11:00:00-02:00"
    assert by_id(merge(base, theirs, ours), 1)["updatedAt"] == "2025-01-01T11:00:00-02:00"


def test_a_renumbered_task_never_takes_the_id_of_a_task_the_merge_drops() -> None:
    base = tagged(make_task(1), make_task(3))
    ours, theirs = edited(base), edited(base)
    del ours["master"]["tasks"][1]  # ours removes 3; theirs keeps it unchanged: dropped
    ours["master"]["tasks"].append(make_task(2, title="o"))
    theirs["master"]["tasks"].append(make_task(2, title="t"))
    result = merge(base, ours, theirs)
    assert result.clean and [(r.old, r.new) for r in result.renumbered] == [("2", "4")]
    assert [(t["id"], t["title"]) for t in master(result)] == [(1, "Task 1"), (2, "o"), (4, "t")]
