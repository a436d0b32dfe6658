"""claude-task-master's AI commands, which answer that they need a model and what to use instead.

Task Master Pro runs no AI model. People (and scripts) still type `task-master expand --all` or
`parse-prd docs/prd.txt` from habit; "No such command" would suggest a typo, and a usage error
about one of the reference's options would hide the real answer. So each command takes any
arguments and replies with one line: it needs a model, and which command does the job by hand.
Exit status 2, as for any command line this tool cannot carry out.
"""

from __future__ import annotations

import click

ALTERNATIVES = {
    "parse-prd": "add the document's tasks with `tm add-task --title TEXT` (or let your "
    "agent do it through `tm mcp`)",
    "expand": "add subtasks with `tm add-subtask --parent ID --title TEXT`",
    "update": "change tasks with `tm update-task --id ID --details TEXT` (or --title, "
    "--description, ...)",
    "scope-up": "add detail with `tm update-task` and `tm add-subtask`",
    "scope-down": "simplify with `tm update-task` and `tm remove-subtask`",
    "analyze-complexity": "there is no complexity score; `tm show ID` lists a task's "
    "subtasks and dependencies, `tm update-task --priority` ranks it",
    "complexity-report": "no complexity report is written (`analyze-complexity` needs a "
    "model too); `tm list --with-subtasks` shows the tasks",
    "research": "ask your own assistant; `tm mcp` gives it the project's tasks",
    "models": "there is no model to configure",
}


class NeedsModel(click.ClickException):
    """One `Error: ...` line and exit status 2 (a command this tool cannot carry out)."""

    exit_code = 2


def _command(name: str, instead: str) -> click.Command:
    def refuse() -> None:
        raise NeedsModel(
            f"`tm {name}` needs an AI model, which Task Master Pro does not run: {instead}."
        )

    return click.Command(
        name,
        callback=refuse,
        help=f"Needs an AI model, which this tool does not run: {instead}.",
        hidden=True,
        # Whatever the reference accepts is accepted, so the answer is the one line above.
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


def commands() -> list[click.Command]:
    return [_command(name, instead) for name, instead in ALTERNATIVES.items()]
