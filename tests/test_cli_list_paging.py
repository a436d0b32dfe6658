"""`tm list --limit/--cursor/--fields`: pages, projection and the refusals of bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_support import Tm


@pytest.fixture
def five(tmp_path: Path) -> Tm:
    tm = Tm.init(tmp_path)
    for n in range(1, 6):
        tm.add(f"Task {n}")
    return tm


def test_pages_follow_the_cursor_to_the_end(five: Tm) -> None:
    first = five.json("list", "--limit", "2")
    assert [t["id"] for t in first["tasks"]] == [1, 2]
    assert first["changed"] is False
    second = five.json("list", "--limit", "2", "--cursor", first["nextCursor"])
    assert [t["id"] for t in second["tasks"]] == [3, 4]
    five.ok("set-status", "1", "done")  # a write between pages
    last = five.json("list", "--limit", "2", "--cursor", second["nextCursor"])
    assert [t["id"] for t in last["tasks"]] == [5]
    assert last["nextCursor"] is None
    assert last["changed"] is True


def test_without_paging_the_json_shape_is_unchanged(five: Tm) -> None:
    assert list(five.json("list")) == ["tag", "tasks"]


def test_fields_project_the_tasks(five: Tm) -> None:
    data = five.json("list", "--fields", "id,status")
    assert data["tasks"][0] == {"id": 1, "status": "pending"}


def test_bad_fields_and_cursors_exit_2_with_a_message(five: Tm) -> None:
    assert "valid fields" in five.fails(2, "list", "--fields", "id,colour").output
    assert "cursor" in five.fails(2, "list", "--cursor", "garbage!").output
    five.fails(2, "list", "--limit", "0")
