"""`tm doctor`: check a project (locks, sidecars, ids, reversions, git) and say what to do."""

from __future__ import annotations

import sys

import click

from taskmaster.cli import render
from taskmaster.cli.context import App, json_option, pass_app
from taskmaster.cli.text import one_line

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


@click.command()
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check the project and say what needs a hand.

    \b
    task-file   it exists, parses, and a write can replace it
    ids         no id shared by two tasks; every dependency resolves
    ref-lock    the reference tool's lock (tasks.json.lock): free, held, or stale, and
                what its writers left behind
    sidecars    our revision file, journal and copy of the last commit agree; no
                unfinished write of a killed writer
    reversions  outside changes (the reference tool writing back a copy it read earlier)
                that put back values a commit had set: each is in tm history
    git         git ignores the sidecars and merges the task file with tm's merge driver

    Each check is ok, warn (worth a look, nothing lost), FAIL (fix it first) or skip (does
    not apply). Nothing is changed, except that an outside change not journaled yet is
    journaled first, as tm history does.

    Exit status: 0 when nothing failed (warnings included), 1 when a check failed.
    --json prints {"status", "ok", "checks": [{"name", "status", "summary", "details"}]}.
    """
    from taskmaster.doctor import diagnose

    project = app.project
    report = diagnose(project.core, project.paths)
    if as_json:
        render.echo_json(report.to_dict())
    else:
        for check in report.checks:
            click.echo(f"{MARKS[check.status]}  {check.name:<11} {one_line(check.summary)}")
            for line in check.details:
                click.echo(f"{'':17} {one_line(line)}")
    if report.status == "fail":
        failed = [check.name for check in report.checks if check.status == "fail"]
        click.echo(f"Error: {len(failed)} check(s) failed: {', '.join(failed)}", err=True)
        sys.exit(1)
