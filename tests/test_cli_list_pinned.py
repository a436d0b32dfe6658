"""`tm list` output pinned byte for byte on a project crafted to be hostile to a terminal.

Titles, statuses and priorities with escape sequences, C1 controls and bidirectional overrides,
wide (CJK) and combining characters, whitespace runs and a title too long for any column: the
table escapes what must not reach a terminal raw and measures the rest in columns. The
expected text was taken from the renderer before its fast paths were added; a change here is a
change of what users see, and an escape that is lost makes these tests fail.
"""

# Whole rendered lines are the point of this file, so they stay unwrapped.
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import click
from test_cli_support import Tm, write_document

from taskmaster.cli import render

TASKS = [
    {
        "id": 1,
        "title": "Plain ASCII title",
        "status": "done",
        "priority": "high",
        "dependencies": [],
    },
    {
        "id": 2,
        "title": "ESC \x1b]0;pwned\x07 and \x1b[2J clear",
        "status": "pending",
        "dependencies": [1],
    },
    {
        "id": 3,
        "title": "bidi \u202egnp.exe\u202c and \u2066isolate\u2069",
        "status": "in\x1b[31mprogress",
        "priority": "\u202elow",
        "dependencies": [1, 2],
        "subtasks": [
            {"id": 1, "title": "漢字のサブタスク", "status": "done", "dependencies": []},
            {
                "id": 2,
                "title": "  tab\there\nnewline  \x9b6n ",
                "status": "状态",
                "priority": "critical",
                "dependencies": [1, "2"],
            },
        ],
    },
    {
        "id": 4,
        "title": "宽字符标题 with CJK and é combining",
        "status": "review",
        "priority": "low",
        "dependencies": ["3.1"],
    },
    {
        "id": 10,
        "title": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "status": "blocked",
        "priority": "critical",
        "dependencies": [4],
    },
]

CLAIMS = {"3": "代理人 (token 1), 5m left", "3.2": "a (token 2), 1s left"}


def test_tm_list_with_subtasks_is_pinned(tmp_path: Path) -> None:
    tm = Tm.init(tmp_path)
    write_document(tm.tasks_file, {"master": {"tasks": TASKS, "metadata": {}}})
    assert tm.ok("list", "--with-subtasks").stdout.splitlines() == [
        "ID     Title                                                                                                 Status              Priority   Dependencies",
        "1      Plain ASCII title                                                                                     done                high       -",
        "2      ESC \\x1b]0;pwned\\x07 and \\x1b[2J clear                                                                pending             medium     1",
        "3      bidi \\u202egnp.exe\\u202c and \\u2066isolate\\u2069                                                      in\\x1b[31mprogress  \\u202elow  1, 2",
        "  3.1  漢字のサブタスク                                                                                      done                \\u202elow  -",
        "  3.2  tab here newline \\x9b6n                                                                               状态                critical   3.1, 3.2",
        "4      宽字符标题 with CJK and é combining                                                                   review              low        3.1",
        "10     xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…  blocked             critical   4",
        "",
        "Tag 'master': 5 tasks (1 pending, 1 done, 1 review, 1 blocked, 1 in\\x1b[31mprogress); 20% done; 2 subtasks (1 done, 1 状态)",
    ]


def test_a_narrow_table_is_pinned() -> None:
    assert render.task_table(TASKS, with_subtasks=True, width=60) == [
        "ID     Title         Status              Priority   Dependencies",
        "1      Plain ASCII…  done                high       -",
        "2      ESC \\x1b]0;…  pending             medium     1",
        "3      bidi \\u202e…  in\\x1b[31mprogress  \\u202elow  1, 2",
        "  3.1  漢字のサブ…   done                \\u202elow  -",
        "  3.2  tab here ne…  状态                critical   3.1, 2",
        "4      宽字符标题 …  review              low        3.1",
        "10     xxxxxxxxxxx…  blocked             critical   4",
    ]


def test_the_claims_column_is_pinned() -> None:
    assert render.task_table(TASKS, with_subtasks=True, claims=CLAIMS) == [
        "ID     Title                                                                                                 Status              Priority   Dependencies  Claimed by",
        "1      Plain ASCII title                                                                                     done                high       -",
        "2      ESC \\x1b]0;pwned\\x07 and \\x1b[2J clear                                                                pending             medium     1",
        "3      bidi \\u202egnp.exe\\u202c and \\u2066isolate\\u2069                                                      in\\x1b[31mprogress  \\u202elow  1, 2          代理人 (token 1), 5m left",
        "  3.1  漢字のサブタスク                                                                                      done                \\u202elow  -",
        "  3.2  tab here newline \\x9b6n                                                                               状态                critical   3.1, 2        a (token 2), 1s left",
        "4      宽字符标题 with CJK and é combining                                                                   review              low        3.1",
        "10     xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…  blocked             critical   4",
    ]


def test_colour_wraps_the_same_cells() -> None:
    plain = render.task_table(TASKS, with_subtasks=True, width=60)
    coloured = render.task_table(TASKS, with_subtasks=True, width=60, color=True)
    assert [click.unstyle(line) for line in coloured] == plain
    assert click.style("done", fg="green") in coloured[1]


def test_no_raw_control_character_reaches_the_table() -> None:
    lines = render.task_table(TASKS, with_subtasks=True, claims=CLAIMS)
    for line in lines:
        assert not any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in line), line
        assert not set(line) & set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def test_a_dependency_written_as_hostile_text_is_escaped() -> None:
    # Dependencies are ids, but the file is anyone's: text with controls in it is shown escaped.
    tasks = [
        {
            "id": 1,
            "title": "t",
            "status": "pending",
            "dependencies": [2, "\x1b[2J", "\u202eevil"],
            "subtasks": [{"id": 1, "title": "s", "dependencies": ["\x9b6n"]}],
        }
    ]
    lines = render.task_table(tasks, with_subtasks=True)
    assert lines[1].endswith("2, \\x1b[2J, \\u202eevil")
    assert lines[2].endswith("\\x9b6n")
    for line in lines:
        assert not any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in line), line
        assert "\u202e" not in line
