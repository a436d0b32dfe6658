"""add_tag, copy_tag, rename_tag, delete_tag, list_tags."""

from __future__ import annotations

import pytest
from strategies import make_doc, make_subtask, make_task

from taskmaster.errors import InvalidInput, ProtectedTag, TagExists, TagNotFound
from taskmaster.model import Document
from taskmaster.ops import add_tag, copy_tag, delete_tag, list_tags, rename_tag

NOW = "2025-06-01T12:00:00.000Z"


def test_add_tag_creates_an_empty_tag_with_metadata() -> None:
    doc = make_doc(make_task(1))
    info = add_tag(doc, "feature-x", description="Feature X", now=NOW)
    meta = {"created": NOW, "updated": NOW, "description": "Feature X"}
    assert info == {"name": "feature-x", "taskCount": 0, "metadata": meta}
    assert doc.data["feature-x"] == {"tasks": [], "metadata": meta}
    assert doc.tag_names() == ["master", "feature-x"]


def test_add_tag_copying_another_shares_nothing_with_it() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2, 1))
    info = add_tag(doc, "copy", copy_from="master", now=NOW)
    assert info["taskCount"] == 2
    assert doc.tasks("copy") == doc.tasks("master")
    doc.tasks("copy")[0]["subtasks"][0]["title"] = "changed"
    assert doc.tasks("master")[0]["subtasks"][0]["title"] == "Subtask 1.1"


def test_add_tag_turns_a_flat_document_into_a_tagged_one() -> None:
    doc = Document.from_data({"tasks": [make_task(1)], "metadata": {"x": 1}})
    add_tag(doc, "next", now=NOW)
    assert not doc.flat
    assert doc.data["master"] == {"tasks": [make_task(1)], "metadata": {"x": 1}}
    assert doc.tag_names() == ["master", "next"]


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("master", TagExists, "tag 'master' already exists"),
        ("bad name", InvalidInput, "invalid tag name"),
        ("", InvalidInput, "invalid tag name"),
        ("tasks", InvalidInput, "reserves it"),
        ("notes", InvalidInput, "already uses that key"),
    ],
)
def test_add_tag_refusals(name: str, error, message: str) -> None:
    doc = Document.from_data({"master": {"tasks": [], "metadata": {}}, "notes": "keep me"})
    before = doc.to_json()
    with pytest.raises(error, match=message):
        add_tag(doc, name, now=NOW)
    assert doc.to_json() == before


def test_add_tag_copying_a_missing_tag() -> None:
    with pytest.raises(TagNotFound, match="tag 'ghost' does not exist"):
        add_tag(make_doc(), "new", copy_from="ghost", now=NOW)


def test_copy_tag_defaults_the_description() -> None:
    doc = make_doc(make_task(1))
    info = copy_tag(doc, "master", "backup", now=NOW)
    assert info["metadata"]["description"] == "Copy of 'master'"
    assert info["taskCount"] == 1
    assert (
        copy_tag(doc, "master", "b2", description="mine", now=NOW)["metadata"]["description"]
        == "mine"
    )


def test_copy_tag_errors() -> None:
    doc = make_doc(feature=[])
    with pytest.raises(TagNotFound):
        copy_tag(doc, "ghost", "x", now=NOW)
    with pytest.raises(TagExists):
        copy_tag(doc, "master", "feature", now=NOW)


def test_rename_tag_keeps_its_place_and_content() -> None:
    doc = make_doc(feature=[make_task(3)], later=[])
    info = rename_tag(doc, "feature", "feat")
    assert info == {"name": "feat", "taskCount": 1, "metadata": {}}
    assert doc.tag_names() == ["master", "feat", "later"]
    assert doc.task("feat", 3)["title"] == "Task 3"


def test_rename_tag_refusals() -> None:
    doc = make_doc(feature=[], later=[])
    before = doc.to_json()
    with pytest.raises(ProtectedTag, match="the 'master' tag cannot be renamed"):
        rename_tag(doc, "master", "main")
    with pytest.raises(TagNotFound):
        rename_tag(doc, "ghost", "x")
    with pytest.raises(TagExists):
        rename_tag(doc, "feature", "later")
    with pytest.raises(InvalidInput):
        rename_tag(doc, "feature", "no/slash")
    assert doc.to_json() == before


def test_delete_tag() -> None:
    doc = make_doc(feature=[make_task(1)])
    info = delete_tag(doc, "feature")
    assert info == {"name": "feature", "taskCount": 1, "metadata": {}}
    assert doc.tag_names() == ["master"]
    with pytest.raises(ProtectedTag, match="the 'master' tag cannot be deleted"):
        delete_tag(doc, "master")
    with pytest.raises(TagNotFound):
        delete_tag(doc, "feature")


def test_list_tags_counts_tasks_and_done_ones() -> None:
    doc = make_doc(
        make_task(1, status="done"),
        make_task(2, status="completed"),
        make_task(3, status="cancelled"),
        feature=[],
    )
    doc.tag("feature")["metadata"] = {"description": "F"}
    assert list_tags(doc) == [
        {"name": "master", "taskCount": 3, "completed": 2, "metadata": {}},
        {"name": "feature", "taskCount": 0, "completed": 0, "metadata": {"description": "F"}},
    ]


def test_list_tags_of_a_flat_document_does_not_change_it() -> None:
    doc = Document.from_data({"tasks": [make_task(1)]})
    before = doc.to_json()
    assert list_tags(doc) == [{"name": "master", "taskCount": 1, "completed": 0, "metadata": {}}]
    assert doc.to_json() == before
