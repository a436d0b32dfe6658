"""The human output: table layout, truncation, colour that does not shift columns, detail view."""

from __future__ import annotations

import click

from taskmaster.cli import render, text

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
    assert with_subs.endswith("; 1 subtask (1 pending)")
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


# display width, hostile titles ------------------------------------------------------------------


def _columns(line: str) -> int:
    return text.width(line)


def test_wide_characters_keep_the_columns_aligned() -> None:
    tasks = [
        {"id": 1, "title": "漢字のタイトル", "status": "done"},
        {"id": 2, "title": "Emoji 😀🎉 title", "status": "pending"},
        {"id": 3, "title": "Plain ascii title", "status": "review"},
        {"id": 4, "title": "e\u0301tude combining", "status": "pending"},
    ]
    lines = render.task_table(tasks)
    status_col = _columns(lines[0][: lines[0].index("Status")])
    for line, task in zip(lines[1:], tasks, strict=True):
        before, _, _ = line.partition(task["status"])
        assert _columns(before) == status_col, line


def test_a_huge_title_is_cut_and_does_not_pad_every_row() -> None:
    tasks = [{"id": 1, "title": "x" * 100_000}, {"id": 2, "title": "Short"}]
    lines = render.task_table(tasks)
    assert max(len(line) for line in lines) < 200
    assert lines[1].count("x") == render.MAX_TITLE_WIDTH - 1 and "…" in lines[1]
    narrow = render.task_table(tasks, width=80)
    assert all(len(line) <= 80 for line in narrow)
    wide = [{"id": 1, "title": "漢" * 500}]
    assert all(text.width(line) <= 80 for line in render.task_table(wide, width=80))
    assert len(render.title({"title": "y" * 100_000})) == render.MAX_TITLE_WIDTH


def test_control_characters_are_escaped_everywhere_a_title_is_shown() -> None:
    hostile = "red \x1b[31mALERT\x1b[0m \x07\u202eoverride\x9b2J"
    item = {
        "id": 1,
        "title": hostile,
        "status": "pending\x1b[2J",
        "details": "line one\n\x1b]0;owned\x07\tindented",
        "subtasks": [{"id": 1, "title": hostile, "status": "done"}],
    }
    shown = [
        *render.task_table([item], with_subtasks=True),
        *render.task_detail(item),
        render.title(item),
        render.summary("master", [item]),
    ]
    for line in shown:
        assert not any(ch in line for ch in "\x1b\x07\x9b\u202e"), repr(line)
    assert "\\x1b[31mALERT" in render.title(item)
    assert "\\u202eoverride" in render.title(item)
    assert "  \\x1b]0;owned\\x07\tindented" in render.task_detail(item)


def test_counts_are_pluralised() -> None:
    one = [{"id": 1, "title": "A", "subtasks": [{"id": 1, "title": "s"}]}]
    line = render.summary("master", one, with_subtasks=True)
    assert "1 task (" in line and "1 subtask (" in line
    assert render.plural(0, "task") == "0 tasks" and render.plural(2, "file") == "2 files"


def test_a_filtered_summary_describes_the_whole_tag_and_says_what_was_shown() -> None:
    tasks = [{"id": 1, "status": "done"}, {"id": 2, "status": "pending"}]
    line = render.summary("master", tasks, shown=1, shown_as="pending")
    assert line == "Tag 'master': 2 tasks (1 pending, 1 done); 50% done. Shown: 1 of 2 (pending)"
