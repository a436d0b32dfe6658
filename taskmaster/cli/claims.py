"""Claims: `tm claim` (a task for one agent, with a lease and a fencing token), `tm claim
renew`, `tm claim release` and `tm claims`.

`tm claim` is a group whose first argument is either a subcommand name (`renew`, `release`)
or the claim itself (`tm claim 3 --agent a1`, `tm claim --agent a1`): a task id is never a
subcommand's name, so the two cannot be confused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import click

from taskmaster.cli import render, text
from taskmaster.cli.context import (
    CLAIM_TOKEN,
    LEASE,
    ONE_ID,
    STATUS,
    App,
    F,
    json_option,
    pass_app,
    tag_option,
)
from taskmaster.cli.text import one_line
from taskmaster.commands import ClaimTask, ReleaseClaim, RenewClaim
from taskmaster.commands.claims import LEASE_TEXT
from taskmaster.errors import InvalidInput
from taskmaster.model import TaskId
from taskmaster.ops.claims import DEFAULT_LEASE, check_agent

CLAIMING = "claim"
"""The name the group hands the claim itself on under (see `ClaimGroup`)."""


class ClaimGroup(click.Group):
    """`tm claim`: a subcommand when the first argument names one, else the claim itself.

    The claiming command is no subcommand of the group (so `tm claim claim` is no alias of
    `tm claim`, and help lists only renew and release): the group puts its name in front of
    the arguments, and `get_command` answers it for that name.
    """

    claiming: click.Command | None = None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first is None or (first not in self.commands and first not in ctx.help_option_names):
            args = [CLAIMING, *args]
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == CLAIMING and self.claiming is not None:
            return self.claiming
        return super().get_command(ctx, cmd_name)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        path = ctx.command_path
        formatter.write_usage(path, "[ID] [--next] --agent NAME [--lease D] [--tag T] [--json]")
        formatter.write_usage(path, "renew TOKEN [--lease D] [--json]", prefix=" " * 7)
        formatter.write_usage(path, "release TOKEN [--status S] [--json]", prefix=" " * 7)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The group's own options are the claim's.
        params = self.claiming.get_params(ctx) if self.claiming is not None else []
        rows = [
            record
            for param in params
            if isinstance(param, click.Option) and (record := param.get_help_record(ctx))
        ]
        with formatter.section("Options"):
            formatter.write_dl(rows)
        self.format_commands(ctx, formatter)


class ClaimContext(click.Context):
    """The claim's context: usage lines and hints read `tm claim ...`, since the name the
    group hands it on under is never typed."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else super().command_path


class ClaimCommand(click.Command):
    context_class = ClaimContext


def _agent(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_agent(value)
    except InvalidInput as err:
        raise click.BadParameter(str(err)) from None


def lease_option(func: F) -> F:
    return click.option(
        "--lease",
        type=LEASE,
        default=None,
        metavar="D",
        help=LEASE_TEXT,
    )(func)


@click.group(
    "claim",
    cls=ClaimGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def claim() -> None:
    """Claim a task for one agent, renew the claim's lease, or release it.

    \b
    tm claim [ID] --agent NAME      claim task ID, or without ID (or with --next) the task
                                    `tm next` picks among those no other agent holds;
                                    it is set in progress
    tm claim renew TOKEN            extend the claim's lease from now
    tm claim release TOKEN          end the claim; --status done sets the outcome at once

    A claim is made in one transaction, so of many agents claiming at once each task goes to
    exactly one. It answers the task and the claim: the agent, a fencing token (strictly
    increasing, never reused) and when the lease runs out. Pass the token to every write on
    the task (`--claim TOKEN`): once the lease ran out and another agent claimed the task, the
    write is refused, so an agent that was paused cannot overwrite the new holder's work.
    Leases are measured by the storage's clock (this machine's for a task file, the database
    server's for PostgreSQL). Claiming a task another agent holds fails (exit 1) naming the
    holder and the expiry; when nothing is left to claim it says so and exits 0 (--json:
    {"task": null, "claim": null, ...}).

    \b
    Examples:
      tm claim --agent a1 --lease 10m
      TM_AGENT=a1 tm claim 3 --json
      tm update-task 3 --details "..." --claim 7
      tm claim renew 7 --lease 30m
      tm claim release 7 --status done
    """


@click.command(CLAIMING, cls=ClaimCommand)
@click.argument("task_id", metavar="[ID]", required=False, type=ONE_ID)
@click.option(
    "--next", "take_next", is_flag=True, help="Claim the next unclaimed task (the default)."
)
@click.option(
    "--agent",
    metavar="NAME",
    required=True,
    envvar="TM_AGENT",
    show_envvar=True,
    callback=_agent,
    help="Who claims: the agent's name, shown to everyone else.",
)
@lease_option
@tag_option
@json_option
@pass_app
def claim_task(
    app: App,
    task_id: TaskId | None,
    take_next: bool,
    agent: str,
    lease: float | None,
    tag: str | None,
    as_json: bool,
) -> None:
    """Claim task ID, or the next unclaimed task, for an agent."""
    if take_next and task_id is not None:
        raise click.UsageError("give a task ID or --next, not both")
    command = ClaimTask(
        agent=agent,
        id=task_id,
        lease=lease if lease is not None else DEFAULT_LEASE,
        tag=app.tag_for(tag),
    )
    answer = app.execute(command).result
    if as_json:
        render.echo_json(answer)
        return
    for expired in answer["expired"]:
        click.echo(
            f"Claim {expired['token']} of '{one_line(expired['agent'])}' on task "
            f"{expired['id']} ran out at {render.moment(expired['expiresAt'])}: recorded as "
            "expired."
        )
    task, held = answer["task"], answer["claim"]
    if task is None or held is None:
        click.echo("Nothing left to claim: every ready task is claimed, or none is ready.")
        return
    render.echo_lines(
        [
            f"Claimed {render.label(task).lower()}: {render.title(task)}",
            f"  Agent:    {one_line(held['agent'])}",
            f"  Token:    {held['token']}",
            f"  Expires:  {render.moment(held['expiresAt'])} ({_lease_of(held)} lease)",
            f"Pass --claim {held['token']} to the writes on it; renew with "
            f"`tm claim renew {held['token']}`, finish with "
            f"`tm claim release {held['token']} --status done`.",
        ]
    )


claim.claiming = claim_task


def _lease_of(view: Mapping[str, Any]) -> str:
    """The lease just granted, from the claim's own times (no clock needed)."""
    begun = render.timestamp(view.get("renewedAt") or view.get("claimedAt"))
    expires = render.timestamp(view.get("expiresAt"))
    if begun is None or expires is None:
        return "unknown"
    return render.duration(expires - begun)


@claim.command("renew")
@click.argument("token", type=CLAIM_TOKEN)
@lease_option
@json_option
@pass_app
def renew(app: App, token: int, lease: float | None, as_json: bool) -> None:
    """Extend a live claim's lease from now (refused once it ran out: the claim is lost).

    \b
    Example:
      tm claim renew 7 --lease 30m
    """
    command = RenewClaim(token=token, lease=lease if lease is not None else DEFAULT_LEASE)
    view = app.execute(command).result
    if as_json:
        render.echo_json(view)
        return
    click.echo(
        f"Claim {view['token']} on task {view['id']} renewed: it runs until "
        f"{render.moment(view['expiresAt'])} ({_lease_of(view)})."
    )


@claim.command("release")
@click.argument("token", type=CLAIM_TOKEN)
@click.option(
    "-s", "--status", type=STATUS, help="Set the task's status (its outcome) in the same write."
)
@json_option
@pass_app
def release(app: App, token: int, status: str | None, as_json: bool) -> None:
    """End a live claim; --status sets the task's outcome in the same transaction.

    \b
    Example:
      tm claim release 7 --status done
    """
    view = app.execute(ReleaseClaim(token=token, status=status)).result
    if as_json:
        render.echo_json(view)
        return
    outcome = (
        f"; task {view['id']} is now {render.status_text(status, app.color)}" if status else ""
    )
    click.echo(f"Claim {view['token']} on task {view['id']} released{outcome}.")


@click.command("claims")
@click.option(
    "--all",
    "ended",
    is_flag=True,
    help="Also the claims that ended: released, expired, superseded (the last 20 per task).",
)
@tag_option
@json_option
@pass_app
def claims(app: App, ended: bool, tag: str | None, as_json: bool) -> None:
    """List a tag's claims: agent, token, state, when the lease runs out, the task's title.

    Without --all: the live claims, and those whose lease ran out that no claim has recorded
    as expired yet. --json prints {"tag": ..., "claims": [claim, ...]}, ordered by token.

    \b
    Examples:
      tm claims
      tm claims --all --json
    """
    name = app.resolved_tag(tag)
    found = app.core.claims(name, ended=ended).value
    if as_json:
        render.echo_json({"tag": name, "claims": found})
        return
    if not found:
        click.echo(f"No {'' if ended else 'live '}claims in tag '{one_line(name)}'.")
        return
    render.echo_lines(claim_table(found, _titles(app, name), app.clock(), color=app.color))


def _titles(app: App, tag: str) -> dict[str, str]:
    """Every task's and subtask's title in the tag, by id (`3`, `3.2`)."""
    titles: dict[str, str] = {}
    for task in app.core.list_tasks(tag).value.tasks:
        titles[str(task["id"])] = one_line(task.get("title"))
        for sub in task.get("subtasks") or ():
            titles[f"{task['id']}.{sub['id']}"] = one_line(sub.get("title"))
    return titles


def claim_table(
    found: Iterable[Mapping[str, Any]],
    titles: Mapping[str, str],
    now: float,
    *,
    color: bool = False,
) -> list[str]:
    """`tm claims` as lines: id, agent, token, state, expiry (and time left), title."""
    headers = ["ID", "Agent", "Token", "State", "Expires", "Title"]
    rows = []
    for view in found:
        state = one_line(view.get("state"))
        if view.get("status"):
            state += f" ({one_line(view['status'])})"
        expires = render.moment(view.get("expiresAt"))
        if view.get("state") in ("live", "expired"):
            expires += f" ({render.time_left(view, now)})"
        elif view.get("endedAt"):
            expires += f" (ended {render.moment(view['endedAt'])})"
        rows.append(
            [
                one_line(view.get("id")),
                one_line(view.get("agent")),
                str(view.get("token")),
                state,
                expires,
                text.truncate(titles.get(str(view.get("id")), "-"), render.MAX_TITLE_WIDTH),
            ]
        )
    widths = [
        max([len(header)] + [text.width(row[index]) for row in rows])
        for index, header in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        padded = [text.pad(cell, width) for cell, width in zip(cells, widths, strict=True)]
        return "  ".join(padded).rstrip()

    return [render.style(line(headers), color, bold=True), *(line(row) for row in rows)]


def claim_notes(app: App, items: Iterable[dict[str, Any]], tag: str | None) -> dict[str, str]:
    """The live claims on `items` and their subtasks, as `render.claim_note` text by id."""
    candidates: list[dict[str, Any]] = []
    for item in items:
        candidates.append(item)
        if render.kind(item) == "Task":
            for sub in item.get("subtasks") or ():
                if isinstance(sub.get("metadata"), dict):
                    candidates.append(
                        {"id": f"{item['id']}.{sub['id']}", "metadata": sub["metadata"]}
                    )
    if not any(isinstance(each.get("metadata"), dict) for each in candidates):
        return {}  # nothing can be claimed: no need to know the tag or the time
    live = app.core.live_claims(candidates, app.resolved_tag(tag))
    if not live:
        return {}
    now = app.clock()
    return {item_id: render.claim_note(view, now) for item_id, view in live.items()}
