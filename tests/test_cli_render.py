"""The human output: table layout, truncation, colour that does not shift columns, detail view."""

from __future__ import annotations

import click

from taskmaster.cli import render

TASKS = [
    {
        "id": 1,
        "title": "A rather long title that will not fit into a narrow terminal at all",
        "status": "done",
        "priority": "high",
        "dependencies": [],
        "subtasks": [{"id": 1, "title": "Sub\nwith newline", "status": "pending"}],
    },
    {"id": 12, "title": "Short", "status": "in-progress", "dependencies": [1, "1.1"]},
]


def test_table_columns_line_up() -> None:
    lines = render.task_table(TASKS)
    header = lines[0]
    status_col = header.index("Status")
    assert lines[1][status_col:].startswith("done")
    assert lines[2][status_col:].startswith("in-progress")
    assert lines[2].endswith("1, 1.1")
    assert lines[2].split()[3] == "medium"  # no priority stored: the default


def test_table_truncates_titles_only_with_a_width() -> None:
    full = render.task_table(TASKS)
    assert TASKS[0]["title"] in full[1]
    narrow = render.task_table(TASKS, width=60)
    assert all(len(line) <= 60 for line in narrow)
    assert "…" in narrow[1] and TASKS[0]["title"] not in narrow[1]


def test_colour_does_not_shift_columns() -> None:
    plain = render.task_table(TASKS, with_subtasks=True)
    coloured = render.task_table(TASKS, with_subtasks=True, color=True)
    assert coloured != plain
    assert [click.unstyle(line) for line in coloured] == plain
    assert click.style("done", fg="green") in coloured[1]


def test_subtask_rows_are_indented_and_single_line() -> None:
    lines = render.task_table(TASKS, with_subtasks=True)
    assert lines[2].startswith("  1.1  Sub with newline")
    assert len(lines) == 4


def test_summary_counts_by_status() -> None:
    assert render.summary("master", TASKS) == (
        "Tag 'master': 2 tasks (1 in-progress, 1 done); 50% done"
    )
    with_subs = render.summary("master", TASKS, with_subtasks=True)
    assert with_subs.endswith("; 1 subtasks (1 pending)")
    assert render.summary("x", []) == "Tag 'x': no tasks."


def test_detail_view_of_a_subtask_view() -> None:
    view = {
        "id": "3.2",
        "parentId": 3,
        "parentTitle": "Parent",
        "title": "Child",
        "status": "blocked",
        "dependencies": [1, "2.1"],
        "details": "a\n\nb",
    }
    lines = render.task_detail(view)
    assert lines[0] == "Subtask 3.2: Child"
    assert "Parent:       3 (Parent)" in lines
    assert "Dependencies: 3.1, 2.1" in lines
    assert lines[-4:] == ["Details:", "  a", "", "  b"]
    assert not any(line.startswith("Priority") for line in lines)  # none of its own
