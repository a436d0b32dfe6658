"""The model's rules for ids, nesting depth and status, on real parsed documents."""

from __future__ import annotations

import orjson
import pytest
from strategies import make_doc, make_task

from taskmaster.errors import CorruptTaskFile, InvalidInput
from taskmaster.model import (
    MAX_ID,
    MAX_JSON_DEPTH,
    Document,
    TaskId,
    check_json_depth,
    json_depth,
    next_id,
    status_of,
)
from taskmaster.ops import update_task, validate_dependencies


def _nested(levels: int) -> object:
    value: object = 1
    for index in range(levels):
        value = {"a": value} if index % 2 else [value]
    return value


def _file(*tasks: object) -> bytes:
    return orjson.dumps({"master": {"tasks": list(tasks), "metadata": {}}})


# ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["١", "１", "²", "1.١", "٣.2"])
def test_only_ascii_digits_are_ids(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"expected N or N\.M"):
        TaskId.parse(text)


@pytest.mark.parametrize("value", [MAX_ID + 1, str(MAX_ID + 1), "18446744073709551615", "1.9" * 9])
def test_ids_stay_below_two_to_the_53(value: object) -> None:
    with pytest.raises(InvalidInput):
        TaskId.parse(value)


def test_a_five_thousand_digit_id_is_refused_with_a_short_message() -> None:
    with pytest.raises(InvalidInput, match=f"from 1 to {MAX_ID}") as err:
        TaskId.parse("9" * 5000)
    assert len(str(err.value)) < 200


def test_the_largest_id_is_accepted() -> None:
    assert TaskId.parse(str(MAX_ID)) == TaskId(MAX_ID)
    assert TaskId.parse(f"{MAX_ID}.{MAX_ID}") == TaskId(MAX_ID, MAX_ID)


@pytest.mark.parametrize("stored", ["²", "١", 18446744073709551615])
def test_a_stored_id_that_is_no_id_is_a_clear_corrupt_file_error(stored: object) -> None:
    with pytest.raises(CorruptTaskFile, match="'id' must be an integer"):
        Document.from_json(_file({"id": stored, "title": "x"}), "tasks.json")


def test_a_huge_stored_id_is_described_without_float_notation() -> None:
    raw = b'{"master": {"tasks": [{"id": 100000000000000000000000}]}}'
    with pytest.raises(CorruptTaskFile) as err:
        Document.from_json(raw, "tasks.json")
    assert "1e+23" not in str(err.value)
    assert "a number too large to be an id" in str(err.value)


def test_a_non_ascii_dependency_string_stays_unreadable_and_validation_reports_it() -> None:
    doc = Document.from_json(_file({"id": 1, "title": "x", "dependencies": ["²", "٣"]}))
    assert doc.tasks("master")[0]["dependencies"] == ["²", "٣"]
    assert [issue.kind for issue in validate_dependencies(doc, "master")] == [
        "invalid",
        "invalid",
    ]


def test_new_ids_continue_from_the_largest_positive_id() -> None:
    assert next_id([-4, 0]) == 1
    assert next_id([0, 3, -1]) == 4
    assert next_id([]) == 1
    with pytest.raises(InvalidInput, match="no task id is left"):
        next_id([MAX_ID])


# nesting ---------------------------------------------------------------------------------------


def test_json_depth_counts_objects_and_lists() -> None:
    assert json_depth(1) == 0
    assert json_depth({"a": [1, {"b": {}}]}) == 4
    assert json_depth(_nested(900)) == 900  # deeper than Python's recursion would allow


def test_the_depth_limit_is_what_the_file_can_be_written_with() -> None:
    orjson.dumps(_nested(MAX_JSON_DEPTH))
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(_nested(MAX_JSON_DEPTH + 1))


def test_a_file_too_deep_to_write_is_read_but_never_saved() -> None:
    # orjson cannot write it, so the file is built as text, as another program could.
    raw = b'{"master": {"tasks": [{"id": 1, "title": "x", "metadata": ' + b"[" * 600
    raw += b"]" * 600 + b"}]}}"
    doc = Document.from_json(raw, "tasks.json")  # reading works
    assert doc.task("master", 1)["title"] == "x"
    with pytest.raises(CorruptTaskFile, match=f"at most {MAX_JSON_DEPTH} can be written"):
        doc.to_json()


def test_metadata_too_deep_for_the_file_is_refused_before_it_is_stored() -> None:
    doc = make_doc(make_task(1))
    deepest = MAX_JSON_DEPTH - 4  # document, tag, task list, task enclose it
    update_task(doc, "master", TaskId(1), {"metadata": {"x": _nested(deepest - 1)}})
    doc.to_json()
    before = doc.to_json()
    with pytest.raises(InvalidInput, match="'metadata' nests"):
        update_task(doc, "master", TaskId(1), {"metadata": {"x": _nested(deepest)}})
    assert doc.to_json() == before


def test_check_json_depth_counts_where_the_value_goes() -> None:
    assert check_json_depth([[1]], what="x", inside=MAX_JSON_DEPTH - 2) == [[1]]
    with pytest.raises(InvalidInput, match="x nests 2 levels deep; at most 1 fit"):
        check_json_depth([[1]], what="x", inside=MAX_JSON_DEPTH - 1)


# status ----------------------------------------------------------------------------------------


def test_a_missing_or_empty_status_is_pending() -> None:
    assert status_of({}) == "pending"
    assert status_of({"status": None}) == "pending"
    assert status_of({"status": "done"}) == "done"
