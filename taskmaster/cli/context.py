"""What every command shares: the lazily opened project, common options and parameter types.

The project is opened on first use rather than in the group callback, so `tm init`, `tm --help`
and `tm list --help` work outside a project, and a usage error is reported before any file is
touched.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from taskmaster.compose import DEFAULT_LOCK_TIMEOUT
from taskmaster.errors import InvalidInput
from taskmaster.kinds import TOKEN
from taskmaster.model import STATUSES, TaskId, parse_ids
from taskmaster.ops.claims import parse_lease

if TYPE_CHECKING:
    from taskmaster.commands import Command
    from taskmaster.compose import Project, Settings
    from taskmaster.core import TaskMaster
    from taskmaster.storage.base import Commit

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


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
    long_lived: bool = False
    """A server: its storage keeps the document of its last write (`Settings.keep_document`)."""
    debug: bool = False
    color: bool = False
    claim: int | None = None
    """`--claim` of a write command: the fencing token its write must still hold."""
    actor: str | None = None
    """`--actor` / TM_ACTOR: who the journal says writes (None: user@host)."""
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
        """How the project is opened: the group's options, the journal's retention from
        TM_JOURNAL_KEEP / TM_JOURNAL_MAX_AGE and TM_REFERENCE_LOCK (a bad value is a usage
        error, exit 2)."""
        from taskmaster.compose import Settings
        from taskmaster.config import storage_settings
        from taskmaster.journal.entry import Origin, default_actor

        try:
            journal = storage_settings(os.environ)
        except InvalidInput as err:
            raise click.UsageError(str(err)) from None
        return Settings(
            lock_timeout=self.lock_timeout,
            redis_url=self.redis_url,
            pool_size=self.pool_size,
            keep_document=self.long_lived,
            origin=Origin(self.actor or default_actor(), "cli"),
            **journal,
        )

    @property
    def core(self) -> TaskMaster:
        """The `TaskMaster` facade of the selected project (raises ProjectNotFound)."""
        return self.project.core

    def execute(self, command: Command[T]) -> Commit[T]:
        """Run a write command, fenced by the `--claim` token when one was given."""
        return self.core.execute(command, claim=self.claim)

    def clock(self) -> float:
        """The storage's time now: what leases are measured by, so "time left" agrees with
        what a write would be judged by."""
        return self.core.clock()

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


def actor_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A usage error for a name the journal could not record (empty, several lines)."""
    from taskmaster.config import check_actor

    if value is None:
        return None
    from_env = ctx.get_parameter_source(param.name or "actor") is (
        click.core.ParameterSource.ENVIRONMENT
    )
    if from_env and not value.strip():
        return None  # TM_ACTOR= (set but empty) means the default, as an unset one does
    try:
        return check_actor(value, "the name")
    except InvalidInput as err:
        raise click.BadParameter(str(err)) from None


pass_app = click.make_pass_decorator(App, ensure=True)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for one read-only command.

    A whole tag read from the file is a tree of fresh dicts and lists without cycles; every
    collection while it is alive walks all of it again (a 10,000-task `tm list` spent about a
    tenth of its time there) and frees nothing. Reference counting still frees everything.
    On the way out what was allocated meanwhile joins the oldest generation unwalked (freeze
    then unfreeze), or the first allocation after re-enabling would walk it all once more.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            if gc.get_freeze_count() == 0:  # never undo a freeze someone else made
                gc.freeze()
                gc.unfreeze()
            gc.enable()


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


class ClaimTokenType(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """A claim's fencing token: a positive integer, checked at parse time (exit 2)."""

    name = "TOKEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        try:
            return TOKEN.parse(str(value), param.name if param and param.name else "token")
        except InvalidInput:
            self.fail(f"{value!r} is no claim token: expected a positive integer", param, ctx)


class LeaseType(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """A lease length (90, 30s, 5m, 1h30m; more than 0, at most 7 days), in seconds."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        try:
            return parse_lease(str(value))
        except InvalidInput:
            self.fail(
                f"{value!r} is no lease: give seconds or 30s, 5m, 1h30m, more than 0 and at "
                "most 7 days",
                param,
                ctx,
            )


CLAIM_TOKEN = ClaimTokenType()
LEASE = LeaseType()


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


def _remember_claim(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    ctx.ensure_object(App).claim = value


def claim_option(func: F) -> F:
    """`--claim TOKEN` for a write command: `App.execute` passes it on, so the write is refused
    unless the token is still the live claim of what it writes."""
    return click.option(
        "--claim",
        "claim",
        type=CLAIM_TOKEN,
        default=None,
        expose_value=False,
        callback=_remember_claim,
        metavar="TOKEN",
        help="Write only if this claim token (from `tm claim`) is still the live claim of "
        "the task: a claim that ran out or went to another agent refuses the write.",
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
