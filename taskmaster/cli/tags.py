"""`tm tags`: list, add, use, remove, rename and copy tags (separate task lists in one file)."""

from __future__ import annotations

from typing import Any

import click

from taskmaster.cli import render
from taskmaster.cli.context import App, confirm_or_refuse, json_option, pass_app


def _tag_table(infos: list[dict[str, Any]], color: bool) -> list[str]:
    name_w = max(len("Tag"), *(len(info["name"]) for info in infos))
    lines = [render.style(f"  {'Tag'.ljust(name_w)}  Tasks  Done  Description", color, bold=True)]
    for info in infos:
        marker = "*" if info.get("current") else " "
        name = info["name"].ljust(name_w)
        if info.get("current"):
            name = render.style(name, color, fg="green", bold=True)
        description = " ".join(str(info.get("metadata", {}).get("description") or "").split())
        lines.append(
            f"{marker} {name}  {info['taskCount']:>5}  {info.get('completed', 0):>4}  "
            f"{description}".rstrip()
        )
    return lines


def _list(app: App, as_json: bool) -> None:
    infos = app.core.tags()
    if as_json:
        render.echo_json(infos)
        return
    render.echo_lines(_tag_table(infos, app.color))


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def tags(ctx: click.Context, as_json: bool) -> None:
    """Manage tags: separate task lists in one file (`tm tags` alone lists them).

    \b
    Examples:
      tm tags add feature-x --description "The X feature" --copy-from master
      tm tags use feature-x
      tm --tag feature-x list
    """
    if ctx.invoked_subcommand is None:
        _list(ctx.ensure_object(App), as_json)


@tags.command("list")
@json_option
@pass_app
def list_tags(app: App, as_json: bool) -> None:
    """List the tags with their task counts; * marks the current one.

    --json prints [{"name", "taskCount", "completed", "metadata", "current"}, ...].
    """
    _list(app, as_json)


@tags.command("add")
@click.argument("name")
@click.option("-d", "--description", default="", help="What the tag is for.")
@click.option("--copy-from", metavar="TAG", help="Start with a copy of this tag's tasks.")
@click.option(
    "--copy-from-current", is_flag=True, help="Start with a copy of the current tag's tasks."
)
@json_option
@pass_app
def add_tag(
    app: App,
    name: str,
    description: str,
    copy_from: str | None,
    copy_from_current: bool,
    as_json: bool,
) -> None:
    """Create a tag, empty or as a copy of another.

    \b
    Example:
      tm tags add feature-x --description "The X feature" --copy-from master
    """
    if copy_from and copy_from_current:
        raise click.UsageError("give --copy-from TAG or --copy-from-current, not both")
    source = app.core.current_tag() if copy_from_current else copy_from
    info = app.core.add_tag(name, description=description, copy_from=source)
    if as_json:
        render.echo_json(info)
        return
    copied = f" with {info['taskCount']} tasks copied from '{source}'" if source else ""
    click.echo(f"Tag '{info['name']}' created{copied}.")


@tags.command("use")
@click.argument("name")
@json_option
@pass_app
def use_tag(app: App, name: str, as_json: bool) -> None:
    """Make a tag the current one (commands without --tag work on it)."""
    info = app.core.use_tag(name)
    if as_json:
        render.echo_json(info)
        return
    click.echo(f"Now using tag '{info['name']}' ({info['taskCount']} tasks).")


@tags.command("remove")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_app
def remove_tag(app: App, name: str, yes: bool, as_json: bool) -> None:
    """Delete a tag and all its tasks (`master` cannot be deleted).

    Asks first on a terminal; elsewhere it refuses without --yes. If it was the current tag,
    master becomes current.
    """
    if not yes:
        info = next((i for i in app.core.tags() if i["name"] == name), None)
        count = f" and its {info['taskCount']} tasks" if info else ""
        confirm_or_refuse(yes, f"Delete tag '{name}'{count}?")
    info = app.core.delete_tag(name)
    if as_json:
        render.echo_json(info)
        return
    click.echo(f"Tag '{info['name']}' deleted ({info['taskCount']} tasks).")


@tags.command("rename")
@click.argument("old")
@click.argument("new")
@json_option
@pass_app
def rename_tag(app: App, old: str, new: str, as_json: bool) -> None:
    """Rename a tag (`master` cannot be renamed)."""
    info = app.core.rename_tag(old, new)
    if as_json:
        render.echo_json(info)
        return
    click.echo(f"Tag '{old}' renamed to '{info['name']}'.")


@tags.command("copy")
@click.argument("source")
@click.argument("dest")
@click.option("-d", "--description", default=None, help="Description of the new tag.")
@json_option
@pass_app
def copy_tag(app: App, source: str, dest: str, description: str | None, as_json: bool) -> None:
    """Copy a tag with all its tasks under a new name."""
    info = app.core.copy_tag(source, dest, description=description)
    if as_json:
        render.echo_json(info)
        return
    click.echo(f"Tag '{source}' copied to '{info['name']}' ({info['taskCount']} tasks).")
