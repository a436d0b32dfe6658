"""Everything `tm` prints: JSON documents, the task table, the detail view, short confirmations.

Colour is decided once per run (see `context.use_color`) and passed in; widths are computed on
the plain text before styling, so columns line up with or without escape codes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import click

from taskmaster.documents import dumps
from taskmaster.model import STATUSES

STATUS_COLORS: dict[str, dict[str, Any]] = {
    "done": {"fg": "green"},
    "completed": {"fg": "green"},
    "in-progress": {"fg": "cyan", "bold": True},
    "pending": {"fg": "yellow"},
    "review": {"fg": "magenta"},
    "deferred": {"fg": "bright_black"},
    "cancelled": {"fg": "bright_black"},
    "blocked": {"fg": "red"},
}
PRIORITY_COLORS: dict[str, dict[str, Any]] = {
    "critical": {"fg": "red", "bold": True},
    "high": {"fg": "red"},
    "medium": {},
    "low": {"fg": "bright_black"},
}
MIN_TITLE_WIDTH = 12


# JSON ------------------------------------------------------------------------------------------


def echo_json(value: Any) -> None:
    """One JSON document on stdout, nothing else."""
    click.echo(dumps(value))


# small pieces ----------------------------------------------------------------------------------


def style(text: str, color: bool, **styles: Any) -> str:
    return click.style(text, **styles) if color and styles else text


def status_text(status: str | None, color: bool) -> str:
    status = status or "pending"
    return style(status, color, **STATUS_COLORS.get(status, {}))


def priority_text(priority: str | None, color: bool) -> str:
    priority = priority or "medium"
    return style(priority, color, **PRIORITY_COLORS.get(priority, {}))


def item_id(item: dict[str, Any], parent: dict[str, Any] | None = None) -> str:
    """`N` for a task, `N.M` for a subtask (given its parent or as a view with a dotted id)."""
    if parent is not None:
        return f"{parent['id']}.{item['id']}"
    return str(item["id"])


def dependency_ids(item: dict[str, Any], parent_id: Any = None) -> list[str]:
    """Dependencies as full ids: in a subtask a bare number means a sibling."""
    if parent_id is None and isinstance(item.get("id"), str) and "." in item["id"]:
        parent_id = item.get("parentId") or item["id"].split(".", 1)[0]
    result = []
    for dep in item.get("dependencies") or ():
        if parent_id is not None and isinstance(dep, int):
            result.append(f"{parent_id}.{dep}")
        else:
            result.append(str(dep))
    return result


def kind(item: dict[str, Any]) -> str:
    return "Subtask" if isinstance(item.get("id"), str) and "." in item["id"] else "Task"


def label(item: dict[str, Any]) -> str:
    """`Task 3` or `Subtask 3.2`, for confirmations."""
    return f"{kind(item)} {item['id']}"


def _one_line(text: object) -> str:
    return " ".join(str(text or "").split())


def _truncate(text: str, width: int | None) -> str:
    text = _one_line(text)  # a title with a newline would break the table
    if width is None or len(text) <= width:
        return text
    return text[: max(1, width - 1)] + "…"


# the task table --------------------------------------------------------------------------------


def task_rows(tasks: Iterable[dict[str, Any]], with_subtasks: bool) -> list[dict[str, Any]]:
    rows = []
    for task in tasks:
        rows.append(_row(task, None))
        if with_subtasks:
            for sub in task.get("subtasks") or ():
                rows.append(_row(sub, task))
    return rows


def _row(item: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": item_id(item, parent),
        "indent": "  " if parent is not None else "",
        "title": str(item.get("title") or ""),
        "status": item.get("status") or "pending",
        # A subtask without a priority of its own shows its parent's, as `next` ranks it.
        "priority": item.get("priority") or (parent or {}).get("priority") or "medium",
        "deps": ", ".join(dependency_ids(item, parent["id"] if parent else None)) or "-",
    }


def task_table(
    tasks: Sequence[dict[str, Any]],
    *,
    with_subtasks: bool = False,
    color: bool = False,
    width: int | None = None,
) -> list[str]:
    """The `tm list` table as lines; titles are shortened only when `width` is given."""
    rows = task_rows(tasks, with_subtasks)
    headers = {"id": "ID", "title": "Title", "status": "Status", "priority": "Priority"}
    id_w = max([len(headers["id"])] + [len(r["indent"] + r["id"]) for r in rows])
    status_w = max([len(headers["status"])] + [len(r["status"]) for r in rows])
    prio_w = max([len(headers["priority"])] + [len(r["priority"]) for r in rows])
    title_w = max([len(headers["title"])] + [len(_truncate(r["title"], None)) for r in rows])
    if width is not None:
        fixed = id_w + status_w + prio_w + len("Dependencies") + 4 * 2
        title_w = max(MIN_TITLE_WIDTH, min(title_w, width - fixed))
    gap = "  "
    lines = [
        style(
            gap.join(
                [
                    "ID".ljust(id_w),
                    "Title".ljust(title_w),
                    "Status".ljust(status_w),
                    "Priority".ljust(prio_w),
                    "Dependencies",
                ]
            ),
            color,
            bold=True,
        )
    ]
    for r in rows:
        title = _truncate(r["title"], title_w if width is not None else None)
        cells = [
            (r["indent"] + r["id"]).ljust(id_w),
            title.ljust(title_w),
            status_text(r["status"], color) + " " * (status_w - len(r["status"])),
            priority_text(r["priority"], color) + " " * (prio_w - len(r["priority"])),
            r["deps"],
        ]
        lines.append(gap.join(cells).rstrip())
    return lines


def count_by_status(items: Iterable[dict[str, Any]]) -> str:
    counts = Counter(item.get("status") or "pending" for item in items)
    order = [s for s in STATUSES if counts[s]] + sorted(s for s in counts if s not in STATUSES)
    return ", ".join(f"{counts[s]} {s}" for s in order)


def summary(tag: str, tasks: Sequence[dict[str, Any]], *, with_subtasks: bool = False) -> str:
    """One line: counts by status, and how much is done."""
    if not tasks:
        return f"Tag '{tag}': no tasks."
    done = sum(1 for t in tasks if t.get("status") in ("done", "completed"))
    noun = "task" if len(tasks) == 1 else "tasks"
    line = (
        f"Tag '{tag}': {len(tasks)} {noun} ({count_by_status(tasks)}); "
        f"{round(100 * done / len(tasks))}% done"
    )
    if with_subtasks:
        subs = [sub for t in tasks for sub in t.get("subtasks") or ()]
        if subs:
            line += f"; {len(subs)} subtasks ({count_by_status(subs)})"
    return line


# the detail view -------------------------------------------------------------------------------


def _block(name: str, text: str) -> list[str]:
    text = text.strip("\n")
    if not text.strip():
        return []
    return [f"{name}:", *(f"  {line}".rstrip() for line in text.splitlines()), ""]


def task_detail(item: dict[str, Any], *, color: bool = False) -> list[str]:
    """`tm show`: a task (with its subtasks listed) or a subtask view (`"id": "N.M"`)."""
    heading = f"{kind(item)} {item['id']}: {_one_line(item.get('title'))}"
    lines = [style(heading, color, bold=True)]
    fields = [("Status", status_text(item.get("status"), color))]
    if kind(item) == "Subtask":
        parent = str(item.get("parentId") or str(item["id"]).split(".")[0])
        if item.get("parentTitle"):
            parent += f" ({_one_line(item['parentTitle'])})"
        fields.append(("Parent", parent))
    if kind(item) == "Task" or item.get("priority"):
        fields.append(("Priority", priority_text(item.get("priority"), color)))
    fields.append(("Dependencies", ", ".join(dependency_ids(item)) or "none"))
    for name, value in fields:
        lines.append(f"{name + ':':<14}{value}")
    description = _one_line(item.get("description"))
    if description:
        lines.append(f"{'Description:':<14}{description}")
    lines.append("")
    lines += _block("Details", str(item.get("details") or ""))
    lines += _block("Test strategy", str(item.get("testStrategy") or ""))
    subtasks = item.get("subtasks") or []
    if subtasks and kind(item) == "Task":
        lines.append(f"Subtasks ({count_by_status(subtasks)}):")
        id_w = max(len(item_id(sub, item)) for sub in subtasks)
        status_w = max(len(sub.get("status") or "pending") for sub in subtasks)
        for sub in subtasks:
            status = sub.get("status") or "pending"
            deps = dependency_ids(sub, item["id"])
            lines.append(
                f"  {item_id(sub, item).ljust(id_w)}  "
                f"{status_text(status, color)}{' ' * (status_w - len(status))}  "
                f"{_one_line(sub.get('title'))}" + (f"  (after {', '.join(deps)})" if deps else "")
            )
        lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def echo_lines(lines: Iterable[str]) -> None:
    # One write, not one per line: click.echo flushes each call, a syscall per row.
    text = "\n".join(lines)
    if text:
        click.echo(text)
