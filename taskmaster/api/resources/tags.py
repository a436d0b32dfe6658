"""Tags: list and create; one tag: read, rename (`PATCH {"name": new}`), delete."""

from __future__ import annotations

from typing import Any

import falcon

from taskmaster import commands
from taskmaster.api import inputs
from taskmaster.api.state import ApiState, etag, send_json
from taskmaster.errors import TagNotFound

PREFIX = "/api/v1"
NEW_TAG_FIELDS = frozenset({"name", "description", "copyFrom"})


def tag_location(name: str) -> str:
    return f"{PREFIX}/tags/{name}"


class TagCollection:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        core = self.state.core
        # Each tag says whether it is the current one, which lives outside the revision.
        current = core.current_tag()

        def build() -> tuple[Any, int]:
            tags = core.tags()
            return {"revision": tags.revision, "tags": tags.value}, tags.revision

        self.state.respond_read(req, resp, req.path, {"current": current}, build)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = inputs.read_object(
            req, self.state.config.max_body_bytes, allowed=NEW_TAG_FIELDS, required=("name",)
        )
        name = inputs.tag_name(body["name"], "name")
        description = inputs.text(body, "description") or ""
        copy_from = body.get("copyFrom")
        source = inputs.tag_name(copy_from, "copyFrom") if copy_from is not None else None
        info, revision = self.state.write(
            req, commands.AddTag(tag=name, description=description, copy_from=source)
        )
        resp.location = tag_location(name)
        send_json(resp, info, revision=revision, status=201)


class TagItem:
    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        name = inputs.tag_name(name, "name")
        core = self.state.core
        current = core.current_tag()

        def build() -> tuple[Any, int]:
            tags = core.tags()
            for info in tags.value:
                if info["name"] == name:
                    return info, tags.revision
            raise TagNotFound.named(name)

        self.state.respond_read(req, resp, tag_location(name), {"current": current}, build)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        old = inputs.tag_name(name, "name")
        body = inputs.read_object(
            req, self.state.config.max_body_bytes, allowed={"name"}, required=("name",)
        )
        new = inputs.tag_name(body["name"], "name")
        info, revision = self.state.write(req, commands.RenameTag(old=old, new=new))
        resp.content_location = tag_location(new)
        send_json(resp, info, revision=revision)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        name = inputs.tag_name(name, "name")
        _, revision = self.state.write(req, commands.DeleteTag(tag=name))
        resp.status = falcon.HTTP_204
        resp.etag = etag(revision)


class CurrentTag:
    """`GET /current-tag`: the tag requests without `?tag=` work on; `PUT {"name": t}`
    switches it for every client of the project (CLI, other servers, agents), like
    `tm use-tag`. The switch gets a new revision, so every cached answer and ETag moves on."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        core = self.state.core
        current = core.current_tag()

        def build() -> tuple[Any, int]:
            tags = core.tags()
            for info in tags.value:
                if info["name"] == current:
                    return info, tags.revision
            raise TagNotFound.named(current)

        self.state.respond_read(req, resp, req.path, {"current": current}, build)

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = inputs.read_object(
            req, self.state.config.max_body_bytes, allowed={"name"}, required=("name",)
        )
        name = inputs.tag_name(body["name"], "name")
        info, revision = self.state.write(req, commands.UseTag(tag=name))
        send_json(resp, info, revision=revision)
