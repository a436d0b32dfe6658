"""What every command shares: the lazily opened project, common options and parameter types.

The project is opened on first use rather than in the group callback, so `tm init`, `tm --help`
and `tm list --help` work outside a project, and a usage error is reported before any file is
touched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from taskmaster.compose import DEFAULT_LOCK_TIMEOUT
from taskmaster.errors import InvalidInput
from taskmaster.model import STATUSES, TaskId, parse_ids

if TYPE_CHECKING:
    from taskmaster.compose import Project, Settings
    from taskmaster.core import TaskMaster

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """The group's options, and the `TaskMaster` they open (on first use, once)."""

    project_dir: Path | None = None
    """`--project`: where to look for the project (default: the current directory)."""
    tasks_file: Path | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    tag: str | None = None
    redis_url: str | None = None
    """When set, writes announce their events on this Redis (see taskmaster.redis)."""
    storage_url: str | None = None
    """`--storage` / TM_STORAGE_URL: where the tasks are, instead of the project's own choice."""
    pool_size: int | None = None
    """Database connections the process may hold (`tm serve` sets its thread count)."""
    debug: bool = False
    color: bool = False
    _project: Project | None = field(default=None, repr=False)

    @property
    def project(self) -> Project:
        """The selected project, wired (raises ProjectNotFound)."""
        if self._project is None:
            from taskmaster.compose import open_project

            self._project = open_project(
                self.project_dir,
                tasks_file=self.tasks_file,
                settings=self.settings,
                storage_url=self.storage_url,
            )
        return self._project

    @property
    def settings(self) -> Settings:
        from taskmaster.compose import Settings

        return Settings(
            lock_timeout=self.lock_timeout, redis_url=self.redis_url, pool_size=self.pool_size
        )

    @property
    def core(self) -> TaskMaster:
        """The `TaskMaster` facade of the selected project (raises ProjectNotFound)."""
        return self.project.core

    def tag_for(self, tag: str | None) -> str | None:
        """A command's own `--tag` wins over the group's; None means the current tag."""
        return tag or self.tag

    def resolved_tag(self, tag: str | None) -> str:
        return self.tag_for(tag) or self.core.current_tag()

    def close(self) -> None:
        if self._project is not None:
            self._project.close()


def redis_url_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A usage error for a URL Redis could not use, before any command runs."""
    from taskmaster.config import REDIS_SCHEMES

    if value is None or not value.strip():
        return None
    if not value.startswith(REDIS_SCHEMES):
        raise click.BadParameter(
            f"{value!r} is not a Redis URL: expected redis://host:port/db, rediss://... or "
            "unix:///path/to/socket"
        )
    return value.strip()


def storage_url_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A usage error for a storage URL no backend could open (unknown scheme, bad port)."""
    from taskmaster.compose import check_storage_url

    if value is None or not value.strip():
        return None
    try:
        return check_storage_url(value)
    except InvalidInput as err:
        raise click.BadParameter(str(err)) from None


pass_app = click.make_pass_decorator(App, ensure=True)


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to anything non-empty."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def stdin_is_tty() -> bool:
    isatty = getattr(sys.stdin, "isatty", None)
    return bool(isatty and isatty())


def confirm_or_refuse(yes: bool, question: str) -> None:
    """Ask on a terminal; without one, refuse (exit 2) unless `--yes` was given."""
    if yes:
        return
    if not stdin_is_tty():
        raise click.UsageError(
            "not confirmed: stdin is not a terminal, so pass -y/--yes to go ahead"
        )
    # The prompt goes to stderr so that `--json` output stays one clean document.
    click.confirm(question, abort=True, err=True)


# parameter types -------------------------------------------------------------------------------


class IdListType(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """Comma-separated task ids (`3`, `3.2`, `1,2.3`), checked at parse time (exit 2)."""

    name = "IDS"

    def __init__(self, *, single: bool = False, allow_empty: bool = False) -> None:
        self.single = single
        self.allow_empty = allow_empty
        if single:
            self.name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, list):
            return value
        if isinstance(value, TaskId):
            return value if self.single else [value]
        text = str(value)
        if self.allow_empty and not text.strip():
            return []
        try:
            ids = parse_ids(text)
        except InvalidInput as err:
            self.fail(str(err), param, ctx)
        if self.single:
            if len(ids) != 1:
                self.fail(f"expected one id, got {text!r}", param, ctx)
            return ids[0]
        return ids


IDS = IdListType()
ONE_ID = IdListType(single=True)
DEPENDENCY_IDS = IdListType(allow_empty=True)


class CommaChoice(click.Choice):  # type: ignore[type-arg]  # generic from click 8.2 on
    """A click.Choice that also takes a comma-separated list (`pending,in-progress`)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple | list):
            return list(value)
        parts = [part.strip() for part in str(value).split(",") if part.strip()]
        if not parts:
            self.fail("no value given", param, ctx)
        choice = click.Choice(self.choices, self.case_sensitive)
        return [choice.convert(part, param, ctx) for part in parts]


STATUS = click.Choice(STATUSES)
STATUS_LIST = CommaChoice(STATUSES)


# common options --------------------------------------------------------------------------------


def tag_option(func: F) -> F:
    return click.option(
        "--tag",
        metavar="NAME",
        default=None,
        help="Work on this tag instead of the current one.",
    )(func)


def json_option(func: F) -> F:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the result as JSON on stdout (one document, nothing else).",
    )(func)


def pick(
    values: Sequence[tuple[str, Any]],
    *,
    what: str,
    required: bool = True,
) -> Any:
    """One value given either positionally or by option: both only if they agree."""
    given = [(name, value) for name, value in values if value not in (None, [], ())]
    if not given:
        if required:
            raise click.UsageError(f"missing {what}: give {' or '.join(n for n, _ in values)}")
        return None
    first = given[0][1]
    for name, value in given[1:]:
        if value != first:
            raise click.UsageError(
                f"conflicting {what}: {given[0][0]} and {name} differ; give only one"
            )
    return first
