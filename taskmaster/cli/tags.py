"""`tm tags`: list, add, use, remove, rename and copy tags (separate task lists in one file)."""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path
from typing import Any

import click

from taskmaster.cli import render, text
from taskmaster.cli.context import App, F, claim_option, confirm_or_refuse, json_option, pass_app
from taskmaster.commands import AddTag, CopyTag, DeleteTag, RenameTag, UseTag
from taskmaster.errors import InvalidInput


def _tag_table(infos: list[dict[str, Any]], color: bool, show_metadata: bool) -> list[str]:
    """The tags as a table; with `show_metadata` also when each was created and last changed."""
    headers = ["Tag", "Tasks", "Done"] + (["Created", "Updated"] if show_metadata else [])
    rows = []
    for info in infos:
        metadata = info.get("metadata") or {}
        cells = [
            text.one_line(info["name"]),
            str(info["taskCount"]),
            str(info.get("completed", 0)),
        ]
        if show_metadata:
            cells += [text.one_line(metadata.get(key) or "-") for key in ("created", "updated")]
        rows.append((info, cells, render.title({"title": metadata.get("description")})))
    widths = [
        max([len(header)] + [text.width(cells[i]) for _, cells, _ in rows])
        for i, header in enumerate(headers)
    ]

    def line(cells: list[str], description: str) -> str:
        name = text.pad(cells[0], widths[0])
        numbers = [cells[1].rjust(widths[1]), cells[2].rjust(widths[2])]
        dates = [text.pad(cell, width) for cell, width in zip(cells[3:], widths[3:], strict=True)]
        return "  ".join([name, *numbers, *dates, description]).rstrip()

    lines = [render.style(f"  {line(headers, 'Description')}", color, bold=True)]
    for info, cells, description in rows:
        row = line(cells, description)
        if info.get("current"):
            name = render.style(cells[0], color, fg="green", bold=True)
            row = name + row[len(cells[0]) :]
        lines.append(f"{'*' if info.get('current') else ' '} {row}")
    return lines


def _list(app: App, as_json: bool, show_metadata: bool) -> None:
    infos = app.core.tags().value
    if as_json:
        render.echo_json(infos)  # the metadata is always in the document
        return
    render.echo_lines(_tag_table(infos, app.color, show_metadata))


def show_metadata_option(func: F) -> F:
    return click.option(
        "--show-metadata",
        is_flag=True,
        help="Also show when each tag was created and last changed.",
    )(func)


@click.group(invoke_without_command=True)
@show_metadata_option
@json_option
@click.pass_context
def tags(ctx: click.Context, show_metadata: bool, as_json: bool) -> None:
    """Manage tags: separate task lists in one file (`tm tags` alone lists them).

    \b
    Examples:
      tm tags add feature-x --description "The X feature" --copy-from master
      tm tags use feature-x
      tm --tag feature-x list

    claude-task-master's names work too: add-tag, use-tag, delete-tag, rename-tag, copy-tag.
    """
    if ctx.invoked_subcommand is None:
        _list(ctx.ensure_object(App), as_json, show_metadata)


@tags.command("list")
@show_metadata_option
@json_option
@pass_app
def list_tags(app: App, show_metadata: bool, as_json: bool) -> None:
    """List the tags with their task counts; * marks the current one.

    --json prints [{"name", "taskCount", "completed", "metadata", "current"}, ...].
    """
    _list(app, as_json, show_metadata)


# Branches that name no piece of work of their own (as the reference tool reserves them).
RESERVED_BRANCHES = frozenset({"main", "master", "develop", "dev", "head"})


def branch_tag_name(root: Path) -> tuple[str, str]:
    """The current git branch of `root`, and the tag name made of it (as the reference does:
    other characters become '-', lower case, at most 50 characters)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "symbolic-ref", "--short", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InvalidInput(f"--from-branch: could not run git ({err})") from None
    branch = done.stdout.strip()
    if done.returncode != 0 or not branch:
        raise InvalidInput(
            f"--from-branch: {root} is not in a git repository, or no branch is checked out"
        )
    if branch.lower() in RESERVED_BRANCHES:
        raise InvalidInput(f"--from-branch: the branch '{branch}' does not make a tag name")
    name = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9_-]", "-", branch)).strip("-").lower()[:50]
    if not name:
        raise InvalidInput(f"--from-branch: the branch {branch!r} does not make a tag name")
    return branch, name


@tags.command("add")
@click.argument("name", required=False)
@click.option("-d", "--description", default=None, help="What the tag is for.")
@click.option("--copy-from", metavar="TAG", help="Start with a copy of this tag's tasks.")
@click.option(
    "--copy-from-current", is_flag=True, help="Start with a copy of the current tag's tasks."
)
@click.option(
    "--from-branch",
    is_flag=True,
    help="Name the tag after the current git branch (feature/Login -> feature-login).",
)
@claim_option
@json_option
@pass_app
def add_tag(
    app: App,
    name: str | None,
    description: str | None,
    copy_from: str | None,
    copy_from_current: bool,
    from_branch: bool,
    as_json: bool,
) -> None:
    """Create a tag, empty or as a copy of another.

    \b
    Examples:
      tm tags add feature-x --description "The X feature" --copy-from master
      tm tags add --from-branch --copy-from-current
    """
    if copy_from and copy_from_current:
        raise click.UsageError("give --copy-from TAG or --copy-from-current, not both")
    if from_branch:
        if name is not None:
            raise click.UsageError("give a tag NAME or --from-branch, not both")
        branch, name = branch_tag_name(app.project.root)
        if description is None:
            description = f'Tag created from git branch "{branch}"'
    elif name is None:
        raise click.UsageError("missing the tag NAME (or --from-branch)")
    source = app.core.current_tag() if copy_from_current else copy_from
    add = AddTag(tag=name, description=description or "", copy_from=source)
    info = app.execute(add).result
    if as_json:
        render.echo_json(info)
        return
    copied = (
        f" with {render.plural(info['taskCount'], 'task')} copied from '{source}'" if source else ""
    )
    click.echo(f"Tag '{text.one_line(info['name'])}' created{copied}.")


@tags.command("use")
@click.argument("name")
@claim_option
@json_option
@pass_app
def use_tag(app: App, name: str, as_json: bool) -> None:
    """Make a tag the current one (commands without --tag work on it)."""
    info = app.execute(UseTag(tag=name)).result
    if as_json:
        render.echo_json(info)
        return
    count = render.plural(info["taskCount"], "task")
    click.echo(f"Now using tag '{text.one_line(info['name'])}' ({count}).")


@tags.command("remove")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@claim_option
@json_option
@pass_app
def remove_tag(app: App, name: str, yes: bool, as_json: bool) -> None:
    """Delete a tag and all its tasks (`master` cannot be deleted).

    Asks first on a terminal; elsewhere it refuses without --yes. If it was the current tag,
    master becomes current.
    """
    if not yes:
        info = next((i for i in app.core.tags().value if i["name"] == name), None)
        count = f" and its {render.plural(info['taskCount'], 'task')}" if info else ""
        confirm_or_refuse(yes, f"Delete tag '{name}'{count}?")
    info = app.execute(DeleteTag(tag=name)).result
    if as_json:
        render.echo_json(info)
        return
    click.echo(
        f"Tag '{text.one_line(info['name'])}' deleted ({render.plural(info['taskCount'], 'task')})."
    )


@tags.command("rename")
@click.argument("old")
@click.argument("new")
@claim_option
@json_option
@pass_app
def rename_tag(app: App, old: str, new: str, as_json: bool) -> None:
    """Rename a tag (`master` cannot be renamed)."""
    info = app.execute(RenameTag(old=old, new=new)).result
    if as_json:
        render.echo_json(info)
        return
    click.echo(f"Tag '{old}' renamed to '{text.one_line(info['name'])}'.")


@tags.command("copy")
@click.argument("source")
@click.argument("dest")
@click.option("-d", "--description", default=None, help="Description of the new tag.")
@claim_option
@json_option
@pass_app
def copy_tag(app: App, source: str, dest: str, description: str | None, as_json: bool) -> None:
    """Copy a tag with all its tasks under a new name."""
    info = app.execute(CopyTag(source=source, target=dest, description=description)).result
    if as_json:
        render.echo_json(info)
        return
    count = render.plural(info["taskCount"], "task")
    click.echo(f"Tag '{source}' copied to '{text.one_line(info['name'])}' ({count}).")


# claude-task-master's top-level names for the same commands (`tm add-tag x` = `tm tags add x`).
REFERENCE_NAMES = {
    "add-tag": add_tag,
    "use-tag": use_tag,
    "delete-tag": remove_tag,
    "rename-tag": rename_tag,
    "copy-tag": copy_tag,
}


def reference_commands() -> list[click.Command]:
    """The tag commands under claude-task-master's names, hidden from `tm --help`."""
    commands = []
    for name, command in REFERENCE_NAMES.items():
        commands.append(
            click.Command(
                name,
                callback=command.callback,
                params=command.params,
                help=f"Same as `tm tags {command.name}`.\n\n{inspect.cleandoc(command.help or '')}",
                short_help=f"Same as `tm tags {command.name}`.",
                hidden=True,
                context_settings=command.context_settings,
            )
        )
    return commands
