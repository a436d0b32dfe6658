"""`tm history` and `tm undo`: the change journal, read and taken back.

Every commit has one journal entry (see `taskmaster.journal`): who made it (`tm --actor`, the
API token's name, the MCP client, the claim's agent), through which front end, the command and
its arguments, and each field it changed, before and after. `tm history` prints them, one block
per entry; `tm undo REV` takes one back as a new commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import click
import orjson

from taskmaster.cli import render
from taskmaster.cli.context import ONE_ID, App, json_option, pass_app
from taskmaster.cli.text import one_line, truncate
from taskmaster.ids import TaskId
from taskmaster.journal.changes import CURRENT_TAG, ORDER, STAMPS
from taskmaster.journal.entry import EXTERNAL, UNDO
from taskmaster.journal.reversions import reversion_line

VALUE_COLUMNS = 40
"""A value longer than this (a description, a list of ids) is shortened in the readable form;
`--json` has it whole."""
ARG_COLUMNS = 30
NONE = "(none)"


class RevisionType(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """A revision: an integer, at least `minimum` (a bad one is a usage error, exit 2)."""

    def __init__(self, minimum: int, name: str = "REV") -> None:
        self.minimum = minimum
        self.name = name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            # int() alone would take "1_000" and 5,000-digit strings; a revision is digits.
            if not text.isascii() or not text.isdigit() or len(text) > 19:
                self.fail(f"{value!r} is no revision: expected a whole number", param, ctx)
            number = int(text)
        if number < self.minimum:
            self.fail(f"{value!r} is no revision: expected {self.minimum} or more", param, ctx)
        return number


REVISION = RevisionType(1)
SINCE = RevisionType(0)


class AgeType(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """An age such as 30d, 12h, 1d12h or seconds, in seconds (exit 2 when it is none)."""

    name = "AGE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from taskmaster.config import parse_age
        from taskmaster.errors import InvalidInput

        if isinstance(value, float):
            return value
        try:
            return parse_age(str(value), "--max-age")
        except InvalidInput as err:
            self.fail(str(err), param, ctx)


# tm history ------------------------------------------------------------------------------------


@click.command("history")
@click.argument("item", metavar="[ID]", required=False, type=ONE_ID)
@click.option(
    "--since",
    type=SINCE,
    default=0,
    metavar="REV",
    help="Only entries of revisions after REV (the last one you saw, say).",
)
@click.option("--actor", metavar="NAME", help="Only entries made by this actor.")
@click.option(
    "--tag",
    metavar="NAME",
    default=None,
    help="Only entries that changed this tag (default: every tag, or with ID the current "
    "one; `tm --tag` does the same).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the N most recent of the matching entries.",
)
@click.option(
    "--compact",
    is_flag=True,
    help="Instead of listing: drop old entries now (all but the newest --keep, and those older "
    "than --max-age), and say how many went.",
)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    metavar="N",
    help="With --compact: entries to keep (default TM_JOURNAL_KEEP, else 10000).",
)
@click.option(
    "--max-age",
    "max_age",
    type=AgeType(),
    metavar="AGE",
    help="With --compact: also drop entries older than this: 30d, 12h, 1d12h, 90m or seconds "
    "(default TM_JOURNAL_MAX_AGE, else no limit).",
)
@json_option
@pass_app
def history(
    app: App,
    item: TaskId | None,
    since: int,
    actor: str | None,
    tag: str | None,
    limit: int | None,
    compact: bool,
    keep: int | None,
    max_age: float | None,
    as_json: bool,
) -> None:
    """Show the change journal: who changed what, when, and through which front end.

    One block per commit, oldest first: its revision, time, actor (and front end: cli, api,
    mcp, or outside for an editor's or another tool's change), the command and its arguments,
    then one line per changed field ("5 status: pending -> done"); a task added or removed
    shows as '+ task 5 "title"' / '- task 5 "title"'. Long values are shortened, and the
    time stamps every change sets (metadata.updated) are left out: --json has everything.

    An outside change that put back values earlier commits had set, as the reference tool
    does when it writes back a copy it read before them, is flagged with one line per place:
    "! reverted revision 12: 5 title" (in --json: its "reverts").

    With ID, only the entries that changed that task (or its subtasks) or subtask, of the
    current tag (or --tag). The filters combine; --limit keeps the most recent N of what they
    match.

    --json prints {"revision": <the project's revision now>, "entries": [...]}, the entries
    oldest first, each as stored: revision, time, actor, via, kind (command, undo or
    external), command, args, undoes, tag, ids, events and changes (tag, id, field, before,
    after, index), and reverts (revision, tag, id, field) on an outside change that reverted.

    --compact drops old entries instead of listing them (the journal also does so by itself
    once it holds twice TM_JOURNAL_KEEP entries). An undo needs the entry of the revision it
    takes back, so a compacted revision can no longer be undone.

    \b
    Examples:
      tm history
      tm history 5 --limit 3
      tm history --actor ci-bot --since 120 --json
      tm history --compact --keep 1000 --max-age 30d
    """
    if not compact and (keep is not None or max_age is not None):
        raise click.UsageError("--keep and --max-age only apply with --compact")
    if compact:
        if item is not None or since or actor is not None or tag is not None or limit:
            raise click.UsageError(
                "--compact drops entries by --keep and --max-age only: leave out ID, --since, "
                "--actor, --tag and --limit"
            )
        _compact(app, keep, max_age, as_json)
        return
    tag = app.tag_for(tag)
    app.core.settle_outside_change()
    wanted = str(item) if item is not None else None
    if wanted is not None and tag is None:
        tag = app.core.current_tag()  # task ids are per tag: `tm history 3` is `tm show 3`'s
    read = app.core.history(wanted, since=since, actor=actor, tag=tag)
    entries = read.value
    if wanted is not None and tag is not None:
        entries = [entry for entry in entries if _touches_in(entry, wanted, tag)]
    if limit is not None:
        entries = entries[-limit:]
    if as_json:
        render.echo_json({"revision": read.revision, "entries": entries})
        return
    if not entries:
        filtered = item is not None or since or actor is not None or tag is not None
        click.echo("No journal entry matches." if filtered else "The journal is empty.")
        return
    blocks = ["\n".join(entry_lines(entry)) for entry in entries]
    render.echo_lines(["\n\n".join(blocks)])


def _touches_in(entry: Mapping[str, Any], item: str, tag: str) -> bool:
    """Whether the entry changed task or subtask `item` of `tag` (the same id in another tag
    is another task)."""
    prefix = f"{item}."
    for change in entry.get("changes") or ():
        found = change.get("id")
        if (
            change.get("tag") == tag
            and found is not None
            and (found == item or str(found).startswith(prefix))
        ):
            return True
    return entry.get("tag") == tag and item in (entry.get("ids") or ())


def _compact(app: App, keep: int | None, max_age: float | None, as_json: bool) -> None:
    storage = app.core.storage
    dropped = storage.compact_journal(keep=keep, max_age_s=max_age)
    stats = storage.journal_stats()
    if as_json:
        render.echo_json({"dropped": dropped, **stats})
        return
    kept = stats.get("entries", 0)
    span = (
        f" (revisions {stats['oldest']}-{stats['newest']})"
        if kept and stats.get("oldest") is not None
        else ""
    )
    click.echo(
        f"Dropped {dropped} journal entr{'y' if dropped == 1 else 'ies'}; {kept} kept{span}."
    )


# the readable form -----------------------------------------------------------------------------


def entry_lines(entry: Mapping[str, Any]) -> list[str]:
    """One entry as `tm history` prints it: a header line, what was done, a line per change."""
    revision = entry.get("revision")
    actor = one_line(entry.get("actor") or "?")
    via = one_line(entry.get("via") or "?")
    lines = [f"revision {revision}  {_time(entry.get('time'))}  {actor} ({via})"]
    lines.append(f"  {_what(entry)}")
    if entry.get("unknown"):
        lines.append(f"  (what it changed is unknown: {one_line(entry['unknown'])})")
    lines.extend(f"  ! {one_line(reversion_line(r))}" for r in entry.get("reverts") or ())
    entry_tag = entry.get("tag")
    shown = [line for line in change_lines(entry.get("changes") or (), entry_tag)]
    lines.extend(f"  {line}" for line in shown)
    if not shown and not entry.get("unknown"):
        lines.append("  (no field changed)")
    return lines


def _time(value: Any) -> str:
    """`2026-12-02T13:50:01.123Z` as `2026-12-02 13:50:01 UTC` (anything else as it is)."""
    text = one_line(value or "?")
    if len(text) >= 19 and text[10] == "T" and text.endswith("Z"):
        return f"{text[:10]} {text[11:19]} UTC"
    return text


def _what(entry: Mapping[str, Any]) -> str:
    kind = entry.get("kind")
    if kind == EXTERNAL or entry.get("command") is None:
        return "changed outside Task Master (an editor, another tool)"
    if kind == UNDO and entry.get("undoes") is not None:
        return f"undo: took back revision {entry['undoes']}"
    text = one_line(entry["command"])
    args = _args(entry.get("args") or {})
    return f"{text} {args}" if args else text


def _args(args: Mapping[str, Any]) -> str:
    parts = []
    for key, value in args.items():
        if value is None or value == [] or value == {} or value is False:
            continue
        if key == "revision" and isinstance(value, int):
            parts.append(f"{key}={value}")
            continue
        parts.append(f"{one_line(key)}={_value(value, ARG_COLUMNS)}")
    return " ".join(parts)


def _value(value: Any, columns: int = VALUE_COLUMNS) -> str:
    """A value on one line: text as it is, lists comma-separated, the rest as JSON."""
    if isinstance(value, str):
        shown = one_line(value) if value.strip() else repr(value)
    elif isinstance(value, bool) or value is None:
        shown = "true" if value is True else "false" if value is False else "null"
    elif isinstance(value, list) and all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        shown = ",".join(one_line(v) for v in value) if value else "[]"
    elif isinstance(value, int | float):
        shown = str(value)
    else:
        shown = one_line(orjson.dumps(value).decode())
    return truncate(shown, columns)


def _side(change: Mapping[str, Any], side: str) -> str:
    return _value(change[side]) if side in change else NONE


def change_lines(changes: Any, entry_tag: Any = None) -> Iterator[str]:
    """One line per change: `5 status: pending -> done`, `+ task 5 "title"`, ..."""
    for change in changes:
        field = change.get("field")
        if field in STAMPS:
            continue
        tag = change.get("tag")
        where = f"[{one_line(tag)}] " if tag is not None and tag != entry_tag else ""
        item = change.get("id")
        if tag is None and field == CURRENT_TAG:
            yield f"current tag: {_side(change, 'before')} -> {_side(change, 'after')}"
        elif item is None and field is None:
            yield _whole_tag(change, tag)
        elif item is None:
            name = "order" if field == ORDER else one_line(field)
            yield f"{where}tag {one_line(tag)} {name}: {_side(change, 'before')} -> " + _side(
                change, "after"
            )
        elif field is None:
            yield where + _whole_item(change, str(item))
        else:
            yield (
                f"{where}{one_line(item)} {one_line(field)}: {_side(change, 'before')} -> "
                f"{_side(change, 'after')}"
            )


def _whole_item(change: Mapping[str, Any], item: str) -> str:
    added = "after" in change and "before" not in change
    sign, value = ("+", change.get("after")) if added else ("-", change.get("before"))
    kind = "subtask" if "." in item else "task"
    title = value.get("title") if isinstance(value, Mapping) else None
    named = f' "{truncate(one_line(title), VALUE_COLUMNS)}"' if title else ""
    return f"{sign} {kind} {one_line(item)}{named}"


def _whole_tag(change: Mapping[str, Any], tag: Any) -> str:
    added = "after" in change and "before" not in change
    sign, value = ("+", change.get("after")) if added else ("-", change.get("before"))
    tasks = value.get("tasks") if isinstance(value, Mapping) else None
    count = ""
    if isinstance(tasks, list):
        count = f" ({len(tasks)} task{'' if len(tasks) == 1 else 's'})"
    return f"{sign} tag {one_line(tag)}{count}"


# tm undo ---------------------------------------------------------------------------------------


@click.command("undo")
@click.argument("revision", metavar="REV", type=REVISION)
@json_option
@pass_app
def undo(app: App, revision: int, as_json: bool) -> None:
    """Take back the change of revision REV, as a new commit.

    Every field that revision changed gets back its value from before it (a task it added is
    removed, one it removed comes back where it was); nothing else changes. The undo is itself
    a journal entry, so it can be undone in turn.

    Refused (exit 1, nothing written) when a later revision changed one of the same fields:
    the message names those revisions, which you can undo first, newest first. Also refused
    when the journal has no entry for REV (never committed, or compacted away) or when the
    entry cannot say what was there before (an outside change whose earlier content was lost).

    --json prints {"revision": <the new revision>, "undone": REV, "command": ..., "changes":
    <how many changes were taken back>, "ids": [...]}.

    \b
    Examples:
      tm history 5
      tm undo 42
      tm undo 42 --json
    """
    from taskmaster.commands import Undo

    commit = app.execute(Undo(revision=revision))
    result = commit.result
    if as_json:
        render.echo_json({"revision": commit.revision, **result})
        return
    what = one_line(result.get("command") or "an outside change")
    ids = [one_line(i) for i in result.get("ids") or ()]
    on = f" on {', '.join(ids)}" if ids else ""
    click.echo(
        f"Undid revision {result.get('undone', revision)} ({what}{on}): every field it changed "
        f"has its value from before. Now at revision {commit.revision}."
    )
