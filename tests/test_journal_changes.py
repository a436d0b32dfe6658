"""Field-level differences (`diff`), their inverse (`invert`) and `overlaps`."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from strategies import documents

from taskmaster.journal.changes import ORDER, STAMPS, Conflict, diff, invert, overlaps
from taskmaster.model import Document


def doc(**tags: list[dict[str, Any]]) -> Document:
    return Document(
        {name: {"tasks": tasks, "metadata": {"updated": "t0"}} for name, tasks in tags.items()}
    )


def task(number: int, **fields: Any) -> dict[str, Any]:
    return {"id": number, "title": f"task {number}", "status": "pending", **fields}


def changed(before: Document, after: Document, *tags: str | None) -> list[dict[str, Any]]:
    return diff(before, after, *tags)


def roundtrip(before: Document, after: Document) -> None:
    """`invert` of the diff, applied to `after`, gives `before` back exactly."""
    changes = diff(before, after)
    result = Document(copy.deepcopy(after.data))
    invert(result, changes)
    for change in changes:  # stamps are not restored (an undo stamps anew): put them back
        if change.get("id") is None and change.get("field") in STAMPS:
            metadata = result.data[change["tag"]]["metadata"]
            if "before" in change:
                metadata["updated"] = change["before"]
            else:
                metadata.pop("updated", None)
    assert result.data == before.data


def test_a_field_change_names_its_place_and_both_values() -> None:
    before = doc(master=[task(1), task(2)])
    after = doc(master=[task(1), task(2, status="done")])
    assert changed(before, after) == [
        {"tag": "master", "id": "2", "field": "status", "before": "pending", "after": "done"}
    ]


def test_a_field_added_or_removed_has_only_the_side_that_exists() -> None:
    before = doc(master=[task(1, details="x")])
    after = doc(master=[task(1, priority="high")])
    assert changed(before, after) == [
        {"tag": "master", "id": "1", "field": "priority", "after": "high"},
        {"tag": "master", "id": "1", "field": "details", "before": "x"},
    ]


def test_whole_tasks_and_subtasks_added_or_removed_carry_their_position() -> None:
    before = doc(master=[task(1), task(2, subtasks=[{"id": 1, "title": "s"}])])
    after = doc(master=[task(2, subtasks=[]), task(3)])
    assert changed(before, after) == [
        {"tag": "master", "id": "1", "field": None, "before": task(1), "index": 0},
        {
            "tag": "master",
            "id": "2.1",
            "field": None,
            "before": {"id": 1, "title": "s"},
            "index": 0,
        },
        {"tag": "master", "id": "3", "field": None, "after": task(3), "index": 1},
    ]


def test_a_move_without_adding_or_removing_is_an_order_change() -> None:
    before = doc(master=[task(1), task(2), task(3)])
    after = doc(master=[task(3), task(1), task(2)])
    assert changed(before, after) == [
        {
            "tag": "master",
            "id": None,
            "field": ORDER,
            "before": ["1", "2", "3"],
            "after": ["3", "1", "2"],
        }
    ]


def test_an_order_change_names_only_the_items_on_both_sides() -> None:
    before = doc(master=[task(1), task(2), task(3)])
    after = doc(master=[task(3), task(4), task(1)])
    assert changed(before, after)[-1] == {
        "tag": "master",
        "id": None,
        "field": ORDER,
        "before": ["1", "3"],
        "after": ["3", "1"],
    }


def test_tags_created_deleted_stamped_and_the_current_tag() -> None:
    before = doc(master=[task(1)], old=[])
    after = doc(master=[task(1)], new=[task(1)])
    after.data["master"]["metadata"]["updated"] = "t1"
    assert changed(before, after, "old", "new") == [
        {"tag": None, "id": None, "field": "currentTag", "before": "old", "after": "new"},
        {"tag": "master", "id": None, "field": "metadata.updated", "before": "t0", "after": "t1"},
        {"tag": "new", "id": None, "field": None, "after": after.data["new"]},
        {"tag": "old", "id": None, "field": None, "before": before.data["old"]},
    ]


def test_duplicate_ids_make_the_list_one_value() -> None:
    before = doc(master=[task(1), task(1)])
    after = doc(master=[task(1)])
    assert changed(before, after) == [
        {
            "tag": "master",
            "id": None,
            "field": "tasks",
            "before": [task(1), task(1)],
            "after": [task(1)],
        }
    ]


def test_no_difference_gives_no_change() -> None:
    assert changed(doc(master=[task(1)]), doc(master=[task(1)])) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (doc(master=[task(1), task(2)]), doc(master=[task(2, status="done"), task(4)])),
        (doc(master=[task(1), task(2), task(3)]), doc(master=[task(3), task(1)])),
        (
            doc(master=[task(1, subtasks=[{"id": 1}, {"id": 2}, {"id": 3}])]),
            doc(master=[task(1, subtasks=[{"id": 3}, {"id": 1, "status": "done"}])]),
        ),
        (doc(master=[task(1)], a=[task(5)]), doc(master=[], b=[task(1)])),
        (doc(master=[task(1), task(2), task(3), task(4)]), doc(master=[task(2), task(4)])),
    ],
)
def test_invert_gives_back_the_document_before(before: Document, after: Document) -> None:
    roundtrip(before, after)


@settings(max_examples=100, deadline=None)
@given(documents(), documents())
def test_invert_gives_back_any_document_from_any_other(before: Document, after: Document) -> None:
    if before.flat or after.flat:
        return
    # Top-level keys that are not tags are no place of the journal's (no command changes
    # them): the same on both sides.
    for key in [k for k in after.data if k not in after.tag_names()]:
        del after.data[key]
    after.data.update({k: v for k, v in before.data.items() if k not in before.tag_names()})
    roundtrip(before, after)


def test_invert_refuses_a_place_that_no_longer_holds_its_value() -> None:
    before = doc(master=[task(1)])
    after = doc(master=[task(1, status="done")])
    changes = diff(before, after)
    later = doc(master=[task(1, status="blocked")])
    with pytest.raises(Conflict, match="task 1 field status"):
        invert(later, changes)


def test_invert_returns_the_current_tag_to_restore() -> None:
    same = doc(master=[])
    assert invert(Document(copy.deepcopy(same.data)), diff(same, same, "a", "b")) == "a"


def place(item: str | None, field: str | None, tag: str | None = "master") -> dict[str, Any]:
    return {"tag": tag, "id": item, "field": field, "before": 0, "after": 1}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (place("1", "status"), place("1", "status"), True),
        (place("1", "status"), place("1", "title"), False),
        (place("1", "status"), place("2", "status"), False),
        (place("1", "status"), place("1", "status", tag="other"), False),
        (place("1", None), place("1", "title"), True),  # the whole task and a field of it
        (place("1", None), place("1.2", "title"), True),  # the whole task and its subtask
        (place("1", "title"), place("1.2", "title"), False),
        (place("1", ORDER), place("1.2", None), True),  # subtask order and a subtask added
        (place("1", ORDER), place("1.2", "title"), False),
        (place(None, ORDER), place("3", None), True),  # task order and a task removed
        (place(None, ORDER), place("3", "status"), False),
        (place(None, None), place("3", "status"), True),  # the whole tag
        (place(None, "metadata.updated"), place(None, "metadata.updated"), False),  # stamps
        (place(None, "metadata.description"), place(None, "metadata.description"), True),
        (place(None, ORDER), place(None, ORDER), True),  # two moves of the same tag
        (place(None, "metadata.description"), place(None, ORDER), False),
        # the project's current tag, changed twice (tag None: no tag of the document)
        (place(None, "currentTag", tag=None), place(None, "currentTag", tag=None), True),
    ],
)
def test_overlaps(a: dict[str, Any], b: dict[str, Any], expected: bool) -> None:
    assert overlaps([a], [b]) is expected
    assert overlaps([b], [a]) is expected


def test_items_changed_in_place_in_a_long_list_are_found_by_position() -> None:
    tasks = [task(n, subtasks=[{"id": 1, "title": "s"}]) for n in range(1, 2001)]
    before = doc(master=tasks)
    after = Document(copy.deepcopy(before.data))
    after.data["master"]["tasks"][1499]["status"] = "done"
    after.data["master"]["tasks"][9]["subtasks"][0]["title"] = "t"
    assert changed(before, after) == [
        {"tag": "master", "id": "10.1", "field": "title", "before": "s", "after": "t"},
        {"tag": "master", "id": "1500", "field": "status", "before": "pending", "after": "done"},
    ]
    roundtrip(before, after)


def test_a_list_with_duplicate_ids_changed_in_place_is_still_one_value() -> None:
    before = doc(master=[task(1), task(1), task(2)])
    after = doc(master=[task(1), task(1, status="done"), task(2)])
    assert changed(before, after) == [
        {
            "tag": "master",
            "id": None,
            "field": "tasks",
            "before": before.data["master"]["tasks"],
            "after": after.data["master"]["tasks"],
        }
    ]


def test_an_id_changed_in_place_is_a_removal_and_an_addition() -> None:
    before = doc(master=[task(1), task(2)])
    after = doc(master=[task(1), task(7)])
    assert [(c["id"], c["field"], "before" in c, "after" in c) for c in changed(before, after)] == [
        ("2", None, True, False),
        ("7", None, False, True),
    ]


def test_keys_that_read_as_markers_are_named_as_written() -> None:
    """A tag or task key spelt like a marker (`#order`, a tag's `metadata.X`, `=`) is still
    one field of its own (Hypothesis found a tag key `#order` read as the task order)."""
    before = Document({"master": {"tasks": [{"id": 1}], "metadata": {"created": "x"}}})
    after = Document(
        {
            "master": {
                "tasks": [{"id": 1, "#order": 5, "=x": 1}],
                "metadata": {"created": "x"},
                "#order": [],
                "metadata.updated": 1,
            }
        }
    )
    changes = diff(before, after)
    assert {c["field"] for c in changes} == {"=#order", "=metadata.updated", "==x"}
    roundtrip(before, after)
    roundtrip(after, before)
