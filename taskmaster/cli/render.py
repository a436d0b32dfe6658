"""Everything `tm` prints: JSON documents, the task table, the detail view, short confirmations.

Colour is decided once per run (see `context.use_color`) and passed in; widths are computed on
the plain text before styling, so columns line up with or without escape codes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click

from taskmaster.cli import text
from taskmaster.cli.text import one_line, printable
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
MAX_TITLE_WIDTH = 100
"""Title column cap when the output is no terminal (a pipe, a file): `--json` has it all."""


# JSON ------------------------------------------------------------------------------------------


def echo_json(value: Any) -> None:
    """One JSON document on stdout, nothing else."""
    click.echo(dumps(value))


# small pieces ----------------------------------------------------------------------------------


def style(text: str, color: bool, **styles: Any) -> str:
    return click.style(text, **styles) if color and styles else text


def status_text(status: str | None, color: bool) -> str:
    status = printable(status or "pending")
    return style(status, color, **STATUS_COLORS.get(status, {}))


def priority_text(priority: str | None, color: bool) -> str:
    priority = printable(priority or "medium")
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
            # Any other value is shown as text: escaped, since anyone may have written it.
            result.append(printable(dep))
    return result


def kind(item: dict[str, Any]) -> str:
    return "Subtask" if isinstance(item.get("id"), str) and "." in item["id"] else "Task"


def label(item: dict[str, Any]) -> str:
    """`Task 3` or `Subtask 3.2`, for confirmations."""
    return f"{kind(item)} {item['id']}"


def title(item: dict[str, Any]) -> str:
    """An item's title as one safe line for confirmations, shortened as in the table."""
    return text.truncate(one_line(item.get("title")), MAX_TITLE_WIDTH)


def plural(count: int, noun: str) -> str:
    """`1 task`, `2 tasks`, `0 tasks`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# claims ----------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """A length of time for people: `45s`, `14m 3s`, `2h 30m`, `3d 4h` (two units at most)."""
    if seconds < 1:
        return f"{max(seconds, 0):.1f}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    first = next(index for index, (amount, _) in enumerate(units) if amount)
    return " ".join(f"{amount}{unit}" for amount, unit in units[first : first + 2] if amount)


def moment(iso: object) -> str:
    """An ISO time of a claim as `2026-12-02 10:15:00Z` (seconds are what people compare)."""
    seconds = timestamp(iso)
    if seconds is None:
        return one_line(iso)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def timestamp(iso: object) -> float | None:
    """An ISO time as seconds since the epoch (None: not a time)."""
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def time_left(claim: Mapping[str, Any], now: float) -> str:
    """How long a claim's lease still runs, or since when it is over, by the storage's clock."""
    expires = timestamp(claim.get("expiresAt"))
    if expires is None:
        return "unknown expiry"
    left = expires - now
    return f"{duration(left)} left" if left > 0 else f"ran out {duration(-left)} ago"


def claim_note(claim: Mapping[str, Any], now: float) -> str:
    """A live claim beside a task: `a1 (token 7), 14m 3s left`."""
    return f"{one_line(claim.get('agent'))} (token {claim.get('token')}), {time_left(claim, now)}"


# the task table --------------------------------------------------------------------------------


def _title(raw: object) -> tuple[str, int]:
    """A title as one printable line, and its width in columns."""
    if type(raw) is str:
        line = " ".join(raw.split())
        if line.isascii() and line.isprintable():
            return line, len(line)
    line = one_line(raw)
    return line, text.width(line)


def _table_rows(
    tasks: Iterable[dict[str, Any]], with_subtasks: bool
) -> list[tuple[str, str, str, int, str, str, str]]:
    """The table's rows as tuples: (indented id, id, title, title width, status, priority,
    dependencies). Status and priority are strings still to be made printable (`task_table`
    does that once per distinct value); everything else is printable.

    The table is drawn for every `tm list`, over every task of a tag, so this is the hot
    path: a plain ASCII title (the common case) is checked with two C-level string tests
    instead of character by character, and the usual task (integer id, no subtasks shown)
    takes no helper call but the title's.
    """
    rows: list[tuple[str, str, str, int, str, str, str]] = []
    append = rows.append
    for task in tasks:
        get = task.get
        raw = get("title")
        if type(raw) is str and (title := " ".join(raw.split())).isascii() and title.isprintable():
            title_width = len(title)
        else:
            title, title_width = _title(raw)
        status = get("status") or "pending"
        if type(status) is not str:
            status = printable(status)
        priority = get("priority") or "medium"
        if type(priority) is not str:
            priority = printable(priority)
        deps = get("dependencies")
        if not deps:
            dep_text = "-"
        elif type(task["id"]) is int:  # a task's dependencies are shown as stored
            dep_text = ", ".join(map(str, deps)) or "-"
            if not dep_text.isprintable():  # a dependency that is text, with controls in it
                dep_text = ", ".join(dependency_ids(task)) or "-"
        else:
            dep_text = ", ".join(dependency_ids(task)) or "-"
        ident = str(task["id"])
        append((ident, ident, title, title_width, status, priority, dep_text))
        if with_subtasks:
            for sub in get("subtasks") or ():
                ident = item_id(sub, task)
                title, title_width = _title(sub.get("title"))
                status = sub.get("status") or "pending"
                # A subtask without a priority of its own shows its parent's, as `next` ranks it.
                priority = sub.get("priority") or get("priority") or "medium"
                dep_text = ", ".join(dependency_ids(sub, task["id"])) or "-"
                append(
                    ("  " + ident, ident, title, title_width, str(status), str(priority), dep_text)
                )
    return rows


def task_table(
    tasks: Sequence[dict[str, Any]],
    *,
    with_subtasks: bool = False,
    color: bool = False,
    width: int | None = None,
    claims: Mapping[str, str] | None = None,
) -> list[str]:
    """The `tm list` table as lines.

    Columns are measured in terminal columns. Titles are shortened with an ellipsis to fit
    `width` (the terminal's), or without one to MAX_TITLE_WIDTH, so one long title neither
    wraps every row nor pads them all. `claims` (id -> `claim_note`) adds a last column with
    the live claims.
    """
    rows = _table_rows(tasks, with_subtasks)
    measure = text.width
    # Each distinct status, priority and dependency text is made printable and measured once.
    statuses = {value: printable(value) for value in {r[4] for r in rows}}
    priorities = {value: printable(value) for value in {r[5] for r in rows}}
    status_widths = {value: measure(shown) for value, shown in statuses.items()}
    prio_widths = {value: measure(shown) for value, shown in priorities.items()}
    # Dependency texts are mostly distinct (and ASCII): measured without a call per row.
    dep_widths = {
        value: len(value) if value.isascii() else measure(value) for value in {r[6] for r in rows}
    }
    id_w = max([len("ID"), *map(len, [r[0] for r in rows])])
    status_w = max([len("Status"), *status_widths.values()])
    prio_w = max([len("Priority"), *prio_widths.values()])
    title_w = max([len("Title"), *[r[3] for r in rows]])
    deps_w = max([len("Dependencies"), *dep_widths.values()])
    claim_w = max([0] + [measure(note) for note in (claims or {}).values()])
    if claims:
        claim_w = max(claim_w, len("Claimed by"))
    if width is not None:
        fixed = id_w + status_w + prio_w + len("Dependencies") + 4 * 2
        if claims:
            fixed += deps_w - len("Dependencies") + claim_w + 2
        title_w = max(MIN_TITLE_WIDTH, min(title_w, width - fixed))
    else:
        title_w = min(title_w, MAX_TITLE_WIDTH)
    gap = "  "
    lines = [
        style(
            gap.join(
                [
                    "ID".ljust(id_w),
                    "Title".ljust(title_w),
                    "Status".ljust(status_w),
                    "Priority".ljust(prio_w),
                    "Dependencies".ljust(deps_w) if claims else "Dependencies",
                    *(["Claimed by"] if claims else []),
                ]
            ),
            color,
            bold=True,
        )
    ]
    # The status and priority cells, styled and padded, by value.
    status_cells = {
        value: status_text(statuses[value], color) + " " * (status_w - used)
        for value, used in status_widths.items()
    }
    prio_cells = {
        value: priority_text(priorities[value], color) + " " * (prio_w - used)
        for value, used in prio_widths.items()
    }
    append = lines.append
    for indent, ident, title, title_width, status, priority, deps in rows:
        if title_width <= title_w:
            title = title + " " * (title_w - title_width)
        else:
            title = text.pad(text.truncate(title, title_w), title_w)
        if claims:
            deps = deps + " " * (deps_w - dep_widths[deps])
            line = (
                f"{indent.ljust(id_w)}  {title}  {status_cells[status]}  "
                f"{prio_cells[priority]}  {deps}  {claims.get(ident, '')}"
            )
        else:
            line = (
                f"{indent.ljust(id_w)}  {title}  {status_cells[status]}  "
                f"{prio_cells[priority]}  {deps}"
            )
        append(line.rstrip())
    return lines


def count_by_status(items: Iterable[dict[str, Any]]) -> str:
    counts = Counter(item.get("status") or "pending" for item in items)
    order = [s for s in STATUSES if counts[s]] + sorted(s for s in counts if s not in STATUSES)
    return ", ".join(f"{counts[s]} {printable(s)}" for s in order)


def summary(
    tag: str,
    tasks: Sequence[dict[str, Any]],
    *,
    with_subtasks: bool = False,
    shown: int | None = None,
    shown_as: str = "",
) -> str:
    """One line about the whole tag: counts by status, how much is done.

    `tasks` are all the tag's tasks; when the table showed only some of them, `shown` says
    how many and `shown_as` which ("pending, ready"), so the percentage is never read as the
    filtered view's.
    """
    name = printable(tag)
    if not tasks:
        return f"Tag '{name}': no tasks."
    done = sum(1 for t in tasks if t.get("status") in ("done", "completed"))
    line = (
        f"Tag '{name}': {plural(len(tasks), 'task')} ({count_by_status(tasks)}); "
        f"{round(100 * done / len(tasks))}% done"
    )
    if with_subtasks:
        subs = [sub for t in tasks for sub in t.get("subtasks") or ()]
        if subs:
            line += f"; {plural(len(subs), 'subtask')} ({count_by_status(subs)})"
    if shown is not None:
        line += f". Shown: {shown} of {len(tasks)}" + (f" ({shown_as})" if shown_as else "")
    return line


# the detail view -------------------------------------------------------------------------------


def _block(name: str, body: str) -> list[str]:
    body = body.strip("\n")
    if not body.strip():
        return []
    lines = (printable(line, keep_tabs=True) for line in body.splitlines())
    return [f"{name}:", *(f"  {line}".rstrip() for line in lines), ""]


def task_detail(
    item: dict[str, Any], *, color: bool = False, claims: Mapping[str, str] | None = None
) -> list[str]:
    """`tm show`: a task (with its subtasks listed) or a subtask view (`"id": "N.M"`);
    `claims` (id -> `claim_note`) names the live claims on it and its subtasks."""
    claims = claims or {}
    heading = f"{kind(item)} {item['id']}: {one_line(item.get('title'))}"
    lines = [style(heading, color, bold=True)]
    fields = [("Status", status_text(item.get("status"), color))]
    if kind(item) == "Subtask":
        parent = str(item.get("parentId") or str(item["id"]).split(".")[0])
        if item.get("parentTitle"):
            parent += f" ({one_line(item['parentTitle'])})"
        fields.append(("Parent", parent))
    if kind(item) == "Task" or item.get("priority"):
        fields.append(("Priority", priority_text(item.get("priority"), color)))
    fields.append(("Dependencies", ", ".join(dependency_ids(item)) or "none"))
    if str(item["id"]) in claims:
        fields.append(("Claimed by", claims[str(item["id"])]))
    for name, value in fields:
        lines.append(f"{name + ':':<14}{value}")
    description = one_line(item.get("description"))
    if description:
        lines.append(f"{'Description:':<14}{description}")
    lines.append("")
    lines += _block("Details", str(item.get("details") or ""))
    lines += _block("Test strategy", str(item.get("testStrategy") or ""))
    subtasks = item.get("subtasks") or []
    if subtasks and kind(item) == "Task":
        lines.append(f"Subtasks ({count_by_status(subtasks)}):")
        id_w = max(len(item_id(sub, item)) for sub in subtasks)
        status_w = max(text.width(printable(sub.get("status") or "pending")) for sub in subtasks)
        for sub in subtasks:
            status = printable(sub.get("status") or "pending")
            deps = dependency_ids(sub, item["id"])
            lines.append(
                f"  {item_id(sub, item).ljust(id_w)}  "
                f"{status_text(status, color)}{' ' * (status_w - text.width(status))}  "
                f"{one_line(sub.get('title'))}"
                + (f"  (after {', '.join(deps)})" if deps else "")
                + (f"  [claimed by {note}]" if (note := claims.get(item_id(sub, item))) else "")
            )
        lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def echo_lines(lines: Iterable[str]) -> None:
    # One write, not one per line: click.echo flushes each call, a syscall per row.
    joined = "\n".join(lines)
    if joined:
        click.echo(joined)
