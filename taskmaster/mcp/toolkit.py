"""What every tool module shares: the registration decorator, the answer, the common parameters.

Tools are plain synchronous functions (the SDK runs them on worker threads, so a write waiting
for the lock does not stall other calls). Their parameters carry pydantic `Field`
descriptions, which end up in the JSON schema the agent reads; names follow the reference
claude-task-master tools (camelCase) because agents are prompted with those.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata, func_metadata
from mcp.types import ToolAnnotations
from pydantic import BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo

from taskmaster.commands import Command
from taskmaster.commands.base import ParamSpec
from taskmaster.core import TaskMaster
from taskmaster.documents import dumps
from taskmaster.errors import ClaimHeld, ClaimLost, EntryNotFound, TaskMasterError, UndoRefused
from taskmaster.fields import FIELDS_BY_NAME
from taskmaster.journal.entry import Origin
from taskmaster.kinds import IDS as ID_LIST
from taskmaster.kinds import SOME_IDS, TASK_NUMBERS, TOKEN, Kind
from taskmaster.model import PRIORITIES, STATUSES

F = TypeVar("F", bound=Callable[..., str])
C = TypeVar("C", bound=Command[Any])
T = TypeVar("T")

PROBLEM_NAMES: tuple[tuple[type[TaskMasterError], str], ...] = (
    (ClaimHeld, "claim-held"),
    (ClaimLost, "claim-lost"),
    (UndoRefused, "undo-refused"),
    (EntryNotFound, "entry-not-found"),
)
"""Errors an agent must tell apart from the rest (wait or claim another task; stop working on
it), named first in the message by the problem types the REST API gives them."""


def reply(value: Any) -> str:
    """A tool's answer: one JSON document, the same bytes `tm ... --json` prints."""
    return dumps(value).decode()


def tool_errors(fn: F) -> F:
    """Turn the failures a caller can act on into tool errors that carry their message.

    The SDK reports any other exception as a bare "Error executing tool" (it hides crash
    details), which would leave an agent guessing what was wrong with its call.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        try:
            return fn(*args, **kwargs)
        except TaskMasterError as err:
            raise ToolError(_message(err)) from err
        except OSError as err:
            # Permission denied, disk full...: the file system's own words are the useful part.
            raise ToolError(f"{type(err).__name__}: {err}") from err

    return wrapper  # type: ignore[return-value]


def _message(err: TaskMasterError) -> str:
    for kind, name in PROBLEM_NAMES:
        if isinstance(err, kind):
            return f"{name}: {err}"
    return str(err)


VIA = "mcp"
MAX_CLIENT_NAME = 100
CLIENT_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "taskmaster_mcp_client", default=None
)
"""The name the calling client gave in its initialize request (`clientInfo.name`), set for the
duration of one tool call: the worker thread a tool runs on gets a copy of the call's context."""


def client_name(context: Context[Any, Any] | None) -> str | None:
    """`clientInfo.name` of the client a call came from; None when it gave none."""
    try:
        params = context.request_context.session.client_params if context else None
    except (ValueError, AttributeError):  # no request behind the call (a direct call)
        return None
    info = getattr(params, "client_info", None)
    name = str(getattr(info, "name", None) or "").strip()
    return name[:MAX_CLIENT_NAME] or None


def caller(core: TaskMaster) -> Origin:
    """Who the current tool call writes as: its client's name, via "mcp" (when the client
    gave none, the actor the facade was opened with: the user at this host by default)."""
    return Origin(CLIENT_NAME.get() or core.origin.actor, VIA)


class ToolServer(MCPServer):
    """An `MCPServer` that checks a call's arguments itself before the SDK does.

    The SDK ignores arguments a tool does not take (a misspelt `priorty` would be dropped
    without a word) and reports a bad one as pydantic's multi-line dump. Here an unknown
    argument is refused by name, and each problem is one line saying which argument and what
    is wrong with it. The SDK's own validation then runs on arguments known to pass.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signatures: dict[str, FuncMetadata] = {}

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        signature = self.signatures.get(name)
        if signature is not None:
            check_arguments(name, signature, arguments)
        named = CLIENT_NAME.set(client_name(context))
        try:
            return await super().call_tool(name, arguments, context)
        finally:
            CLIENT_NAME.reset(named)


def check_arguments(name: str, signature: FuncMetadata, arguments: dict[str, Any]) -> None:
    """ToolError listing every problem of a call's arguments, one line each; else nothing."""
    # By the name a client sends: `from` and `all` are aliases of Python-safe names.
    known = [_sent_name(key, field) for key, field in signature.arg_model.model_fields.items()]
    unknown = [key for key in arguments if key not in known]
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise ToolError(f"{name} has no argument {names}; its arguments are: {', '.join(known)}")
    try:
        signature.validate_arguments(arguments)
    except ValidationError as err:
        problems = [_problem(error) for error in err.errors(include_url=False)]
        if len(problems) == 1:
            raise ToolError(f"invalid argument for {name}: {problems[0]}") from None
        lines = "\n".join(f"- {problem}" for problem in problems)
        raise ToolError(f"invalid arguments for {name}:\n{lines}") from None


def _sent_name(name: str, field: FieldInfo) -> str:
    """The name a client uses: the validation alias where the parameter has one."""
    alias = field.validation_alias or field.alias
    return alias if isinstance(alias, str) else name


def _problem(error: Any) -> str:
    """One pydantic error as a line an agent can act on: the argument, what is wrong."""
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"'{where}' is required"
    shown = repr(error["input"])
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"'{where}': {error['msg']} (got {shown})"


def tool(
    server: ToolServer,
    *,
    title: str,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
) -> Callable[[F], F]:
    """Register a function as a tool named after it, described by its docstring.

    Answers are JSON text, never the SDK's "structured output": several answers are lists or
    null, which structured content (a JSON object) cannot carry as they are.
    """

    def decorator(fn: F) -> F:
        server.signatures[fn.__name__] = func_metadata(fn, structured_output=False)
        server.add_tool(
            tool_errors(fn),
            title=title,
            # Python 3.11 keeps docstring indentation; an agent should not read it.
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=ToolAnnotations(
                title=title,
                read_only_hint=read_only,
                destructive_hint=None if read_only else destructive,
                idempotent_hint=None if read_only else idempotent,
                open_world_hint=False,
            ),
            structured_output=False,
        )
        return fn

    return decorator


def _as_text(value: object) -> object:
    """Agents send ids as numbers (5) and lists ([1, "2.3"]) as often as "5" and "1,2.3"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple):
        return ",".join(str(_as_text(item)) for item in value)
    return value


IDS = BeforeValidator(_as_text)
"""Put in an `Annotated[str, IDS, ...]` id parameter: accepts 5, "5", "1,2.3" and [1, "2.3"]."""


def _enum(values: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    """`json_schema_extra` listing the allowed values on the string branch of the schema.

    On the branch, not beside `anyOf`, or an optional parameter's null would be outside the
    enum. The values stay plain strings to pydantic: the facade checks them and says what is
    allowed in its own words, as it does for the CLI and the API.
    """

    def extra(schema: dict[str, Any]) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string":
                branch["enum"] = list(values)

    return extra


STATUS_ENUM = _enum(STATUSES)
PRIORITY_ENUM = _enum(PRIORITIES)

ProjectRoot = Annotated[
    str,
    Field(
        description=(
            "Absolute path of the project directory, the one that holds .taskmaster/ "
            "(usually the workspace root). It must be the project this server was started for "
            "or lie inside a directory allowed with `tm mcp --allow-root`."
        )
    ),
]
Tag = Annotated[
    str | None,
    Field(
        description=(
            "Tag (a separate task list in the same file) to work on. Default: the project's "
            "current tag (see list_tags, use_tag)."
        )
    ),
]
ClaimToken = Annotated[
    int | None,
    Field(
        description=(
            "The fencing token of your claim (claim_task's claim.token). With it the write is "
            "refused (claim-lost) unless that claim is still live on what it writes, so work "
            "whose lease ran out cannot overwrite the task's new holder. Leave it out to write "
            "unfenced."
        )
    ),
]
TasksFile = Annotated[
    str | None,
    Field(
        description=(
            "Path of the tasks file, absolute or relative to projectRoot; it must lie inside "
            "projectRoot. Usually leave it out: the default is .taskmaster/tasks.json, or "
            ".taskmaster/tasks/tasks.json when the project has that one."
        )
    ),
]


# parameters of the write tools, described by their commands ---------------------------------
#
# A tool parameter that fills a command argument is written `Annotated[str, about(Cmd, "arg")]`
# (with `IDS` before it for ids): the Python type stays in the signature, where a type checker
# reads it, and the words and the allowed values come from the command.

_SEVERAL = "Several: comma-separated, e.g. '15,16.2'."


def spec_of(command: type[Command[Any]], arg: str) -> ParamSpec:
    for spec in command.params():
        if spec.arg == arg:
            return spec
    raise LookupError(f"{command.name} has no argument {arg!r}")


def about(
    command: type[Command[Any]],
    name: str,
    *,
    description: str | None = None,
    also: str = "",
    alias: str | None = None,
) -> Any:
    """The `Field` of a tool parameter that is the command's argument `name`: its description
    (`also` is added after it; by default the command's default, when it has a telling one)
    and, for a choice, its values. `alias` is the name a client sends when it is no Python
    name (`from`)."""
    spec = spec_of(command, name)
    if isinstance(spec.default, str) and spec.default and not also:
        also = f"Default: {spec.default}."  # a default worth saying (not "" or a flag's false)
    return _field(spec.kind, description or spec.description, also, alias)


def about_field(name: str, *, also: str = "") -> Any:
    """The `Field` of a tool parameter that is a task field (`taskmaster.fields`)."""
    field = FIELDS_BY_NAME[name]
    return _field(field.kind, field.description, also, None)


def _field(kind: Kind, description: str, also: str, alias: str | None) -> Any:
    words = " ".join(part for part in (description, also) if part)
    if kind in (ID_LIST, SOME_IDS, TASK_NUMBERS) and "comma" not in words.lower():
        words = f"{words} {_SEVERAL}"  # ids travel as text, the way agents are prompted
    extra = _enum(tuple(kind.schema["enum"])) if "enum" in kind.schema else None
    return Field(description=words, json_schema_extra=extra, validation_alias=alias)


def command(command: type[C], args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> C:
    """The command for a tool call: each argument checked by its kind under the name the tool
    gives it (`names`: command argument -> tool argument), so an error names what the agent
    sent; None values are left out."""
    given = {key: value for key, value in args.items() if value is not None}
    for key, value in given.items():
        spec_of(command, key).kind.parse(value, (names or {}).get(key, key))
    return command.from_args(given)


def execute(core: TaskMaster, command: Command[T], claim_token: int | None) -> T:
    """A write tool's command run in one transaction, fenced by the call's `claimToken` when
    it has one, journaled as the calling client (`caller`); returns the command's result."""
    claim: int | None = None
    if claim_token is not None:
        claim = TOKEN.parse(claim_token, "claimToken")
    return core.execute(command, claim=claim, origin=caller(core)).result
