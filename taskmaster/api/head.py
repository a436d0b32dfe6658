"""`HEAD` on every route that answers `GET`: the same status and headers, no body (RFC 9110
§9.3.2), so a client can check a task's ETag or a probe can check health without the body.

Falcon maps only the responders a resource defines, so `with_head` gives every resource its
`GET` responder as `on_head` when it has none; falcon already leaves the body out of a `HEAD`
answer (and keeps its Content-Length). What a `GET` responder opened for the body, such as an
event stream's slot and bus subscription, is closed by `HeadMiddleware`, since no server will
ever iterate (and so close) a body that is not sent.
"""

from __future__ import annotations

from typing import Any, TypeVar

import falcon

R = TypeVar("R")


def with_head(resource: R) -> R:
    """The resource, answering `HEAD` with its `GET` responder unless it has its own."""
    on_get = getattr(resource, "on_get", None)
    if on_get is not None and getattr(resource, "on_head", None) is None:
        resource.on_head = on_get  # type: ignore[attr-defined]
    return resource


class HeadMiddleware:
    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        if req.method != "HEAD" or resp.stream is None:
            return
        close = getattr(resp.stream, "close", None)
        if close is not None:
            close()
        resp.stream = None
