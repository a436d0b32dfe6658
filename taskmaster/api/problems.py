"""Every error response is an RFC 9457 problem (`application/problem+json`), mapped in one place.

`Problem` is the HTTP error the API raises itself (bad input, body too large, rate limited...).
Domain errors from the core are translated once, by class, in `problem_for`; falcon's own
errors (unknown route, wrong method) go through the same serializer. A file-system error that
reached us raw (a directory in place of the task file, permission denied, a full disk) is a
storage failure like the core's own, so it is a 503 `storage-error` too, never a 500. An
unexpected exception is logged with its traceback and answered with a 500 that carries none.
"""

from __future__ import annotations

import http
import logging
from typing import Any

import falcon
import orjson

from taskmaster.errors import (
    BadArgument,
    ClaimHeld,
    ClaimLost,
    CorruptTaskFile,
    DependencyCycle,
    DuplicateId,
    EntryNotFound,
    HardLinkedTaskFile,
    InvalidInput,
    LockTimeout,
    NotFound,
    ProjectNotFound,
    ProtectedTag,
    RevisionMismatch,
    StorageError,
    StorageUnavailable,
    TagExists,
    TagNotFound,
    TaskFileMissing,
    TaskMasterError,
    TaskNotFound,
    UndoRefused,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:taskmaster:problem:"
"""Problem types are URNs: stable identifiers a client can switch on, never fetched."""

# How long a client should wait before retrying a 503. A lock is released within a write's
# time; a corrupt or missing file needs a person, so a slower retry is kinder to the server.
RETRY_AFTER_LOCK = 1
RETRY_AFTER_BROKEN_FILE = 10


class Problem(falcon.HTTPError):
    """An HTTP error with a problem-details body; extra members go next to the standard ones."""

    headers: dict[str, str] | None  # falcon also allows a list of pairs; the constructor does not

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        phrase = http.HTTPStatus(status).phrase
        super().__init__(status, title=title or phrase, description=detail, headers=headers)
        self.kind = kind
        self.extra = {key: value for key, value in extra.items() if value is not None}

    def to_problem(self) -> dict[str, Any]:
        return {
            "type": TYPE_PREFIX + self.kind if self.kind else "about:blank",
            "title": self.title,
            "status": self.status_code,
            "detail": self.description or self.title,
            **self.extra,
        }


def invalid(field: str, detail: str, **extra: Any) -> Problem:
    """A 400 naming the field (body member, query parameter, header) and what is wrong."""
    return Problem(400, detail, kind="invalid-input", title="Invalid input", field=field, **extra)


def argument_of(err: BadArgument) -> str:
    """The argument a BadArgument names (as the caller sent it)."""
    return str(err.details.get("argument", "body"))


def problem_for(err: TaskMasterError) -> Problem:
    """The HTTP answer to a domain error; the most specific class decides."""
    details = err.details
    if isinstance(err, DependencyCycle):
        return Problem(
            409, err.message, kind="dependency-cycle", title="Dependency cycle", cycle=err.cycle
        )
    if isinstance(err, TagExists):
        return Problem(409, err.message, kind="tag-exists", title="Tag exists", tag=err.tag)
    if isinstance(err, ProtectedTag):
        return Problem(409, err.message, kind="protected-tag", title="Protected tag", tag=err.tag)
    if isinstance(err, DuplicateId):
        # The request is fine; the data is not: the id names two items until they are repaired.
        return Problem(
            409,
            err.message,
            kind="duplicate-id",
            title="Ambiguous id",
            taskId=details.get("task_id"),
        )
    if isinstance(err, ClaimHeld):
        # Another agent's live lease: the members say whose and until when, so the client
        # can wait for it or claim another task.
        return Problem(
            409,
            err.message,
            kind="claim-held",
            title="Claimed by another agent",
            taskId=details.get("task_id"),
            agent=details.get("agent"),
            token=details.get("token"),
            expiresAt=details.get("expires_at"),
        )
    if isinstance(err, ClaimLost):
        # The Claim-Token (or the claim renewed or released) is no live claim of what the
        # request writes: nothing was written, and the client must not carry on as holder.
        return Problem(
            409,
            err.message,
            kind="claim-lost",
            title="Claim lost",
            token=details.get("token"),
            taskId=details.get("task_id"),
            holder=details.get("holder"),
            holderToken=details.get("holder_token"),
        )
    if isinstance(err, UndoRefused):
        # Nothing changed: `later` names the revisions to undo first (newest first works).
        return Problem(
            409,
            err.message,
            kind="undo-refused",
            title="Undo refused",
            revision=details.get("revision"),
            later=details.get("later"),
        )
    if isinstance(err, BadArgument):
        # A command argument of the wrong kind: the argument is the field to point at.
        return invalid(argument_of(err), err.message)
    if isinstance(err, InvalidInput):
        return Problem(400, err.message, kind="invalid-input", title="Invalid input")
    if isinstance(err, TaskNotFound):
        return Problem(
            404,
            err.message,
            kind="task-not-found",
            title="Task not found",
            taskId=details.get("task_id"),
            tag=details.get("tag"),
        )
    if isinstance(err, TagNotFound):
        return Problem(404, err.message, kind="tag-not-found", title="Tag not found", tag=err.tag)
    if isinstance(err, EntryNotFound):
        # Never committed, or compacted away: the history says which revisions it keeps.
        return Problem(
            404,
            err.message,
            kind="entry-not-found",
            title="No journal entry",
            revision=details.get("revision"),
        )
    if isinstance(err, NotFound):
        return Problem(404, err.message, kind="not-found")
    if isinstance(err, RevisionMismatch):
        return Problem(
            412,
            err.message,
            kind="revision-mismatch",
            title="Revision mismatch",
            expected=err.expected,
            current=err.current,
        )
    if isinstance(err, LockTimeout):
        return Problem(
            503,
            err.message,
            kind="lock-timeout",
            title="Task file busy",
            headers={"Retry-After": str(RETRY_AFTER_LOCK)},
        )
    if isinstance(err, CorruptTaskFile | TaskFileMissing | ProjectNotFound):
        kind = "corrupt-task-file" if isinstance(err, CorruptTaskFile) else "task-file-missing"
        return Problem(
            503,
            err.message,
            kind=kind,
            title="Task file unavailable",
            headers={"Retry-After": str(RETRY_AFTER_BROKEN_FILE)},
            path=details.get("path") or details.get("start"),
            reason=details.get("reason"),
            line=details.get("line"),
            column=details.get("column"),
        )
    if isinstance(err, HardLinkedTaskFile):
        # Not transient: retrying cannot help until someone replaces the other links.
        return Problem(
            409,
            err.message,
            kind="task-file-hard-linked",
            title="Task file not writable safely",
            path=details.get("path"),
            links=details.get("links"),
        )
    if isinstance(err, StorageUnavailable):
        # The database is down or unreachable; the store reconnects by itself on the next call.
        retry_after = details.get("retry_after")
        seconds = retry_after if isinstance(retry_after, int) and retry_after > 0 else 1
        return Problem(
            503,
            err.message,
            kind="storage-unavailable",
            title="Storage unavailable",
            headers={"Retry-After": str(seconds)},
            location=details.get("location"),
            outcomeUnknown=bool(details.get("outcome_unknown")) or None,
        )
    if isinstance(err, StorageError):
        return Problem(
            503,
            err.message,
            kind="storage-error",
            title="Storage unavailable",
            headers={"Retry-After": str(RETRY_AFTER_LOCK)},
        )
    log.error("no HTTP mapping for %s: %s", type(err).__name__, err)
    return Problem(500, "the server could not complete the request")


def storage_problem(err: OSError) -> Problem:
    """The answer to a file-system error: the storage cannot serve now, a person may fix it."""
    reason = err.strerror or type(err).__name__
    return Problem(
        503,
        f"the task file cannot be read or written: {reason}",
        kind="storage-error",
        title="Storage unavailable",
        headers={"Retry-After": str(RETRY_AFTER_BROKEN_FILE)},
        path=err.filename if isinstance(err.filename, str) else None,
        reason=reason,
        errno=err.errno,
    )


def problem_for_exception(err: Exception) -> Problem | None:
    """The problem a storage or domain failure answers with; None for anything else (a bug)."""
    if isinstance(err, TaskMasterError):
        return problem_for(err)
    if isinstance(err, OSError):
        return storage_problem(err)
    return None


def handle_domain_error(
    req: falcon.Request, resp: falcon.Response, err: TaskMasterError, params: dict[str, Any]
) -> None:
    raise problem_for(err)


def handle_os_error(
    req: falcon.Request, resp: falcon.Response, err: OSError, params: dict[str, Any]
) -> None:
    # Logged without a traceback: the message (errno, path) says what the operator must fix.
    log.warning("storage failure serving %s %s: %s", req.method, req.path, err)
    raise storage_problem(err)


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, err: Exception, params: dict[str, Any]
) -> None:
    # The traceback goes to the log, never to the client: it can name paths and internals.
    log.exception("unexpected error serving %s %s", req.method, req.path)
    raise Problem(500, "the server could not complete the request; the error was logged")


def serialize(req: falcon.Request, resp: falcon.Response, err: falcon.HTTPError) -> None:
    """Falcon's error serializer: every HTTPError (ours or falcon's) as a problem document."""
    if isinstance(err, Problem):
        body = err.to_problem()
    else:
        status = err.status_code
        body = {
            "type": "about:blank",
            "title": http.HTTPStatus(status).phrase,
            "status": status,
            "detail": err.description or http.HTTPStatus(status).description,
        }
    resp.content_type = PROBLEM_JSON
    resp.data = orjson.dumps(body)


def install(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    # Falcon picks the handler of the most specific class in the error's MRO: the core's
    # StorageError (an OSError too) keeps its own mapping.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(OSError, handle_os_error)
    app.add_error_handler(TaskMasterError, handle_domain_error)
    app.set_error_serializer(serialize)
