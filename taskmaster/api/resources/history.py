"""The change journal over HTTP: who changed what, and taking a change back.

`GET /history` lists journal entries (one per commit: revision, time, actor, via, command,
field-level changes), oldest first, above `since`, filtered by task (`id`, a task's entries
include its subtasks'), `actor` or `tag`, a page of `limit` at a time; `next` is the URL of the
following page (null on the last one). `POST /undo {"revision": N}` takes back that
revision's change as a new commit, refused (409 `undo-refused`, `later` naming them) when a
later change touched the same fields.

The history is read on every request, never cached by revision: compacting the journal drops
entries without a new revision, and a cached page would still list them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import falcon

from taskmaster.api import bodies, inputs
from taskmaster.api.state import ApiState, send_json
from taskmaster.commands import Undo

PATH = "/api/v1/history"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_ACTOR_LENGTH = 200


class History:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw_id = req.get_param("id")
        item = str(inputs.task_id(raw_id, "id")) if raw_id else None
        since = inputs.query_int(req, "since", 0, minimum=0, maximum=bodies.MAX_REVISION)
        actor = inputs.query_text(req, "actor", max_length=MAX_ACTOR_LENGTH)
        tag = inputs.query_tag(req)
        limit = inputs.query_int(req, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
        # One more than a page: whether there is a next one, without a second read.
        read = self.state.core.history(item, since=since, actor=actor, tag=tag, limit=limit + 1)
        entries = read.value[:limit]
        following = None
        if len(read.value) > limit:
            query: dict[str, Any] = {"since": entries[-1]["revision"], "limit": limit}
            query.update({k: v for k, v in (("id", item), ("actor", actor), ("tag", tag)) if v})
            following = f"{PATH}?{urlencode(query)}"
        resp.cache_control = ["no-store"]
        send_json(resp, {"revision": read.revision, "entries": entries, "next": following})


class UndoResource:
    """`POST /undo {"revision": N}`: 200 with what was restored (`undone`, `command`,
    `changes`: how many fields, `ids`) and the new `revision`, which is also the ETag."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = bodies.UNDO.read(req, self.state.config.max_body_bytes)
        result, revision = self.state.write(req, bodies.to_command(Undo, bodies.UNDO.args(body)))
        send_json(resp, {**result, "revision": revision}, revision=revision)
