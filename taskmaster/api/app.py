"""`create_app(project, config)`: the WSGI application, with the wired project injected.

The API calls only the `TaskMaster` facade. At creation it subscribes the response cache to
the facade's bus and starts the storage's change feed, so a change made by any process (the
CLI, an editor, another API instance) becomes an event that invalidates the cache.
"""

from __future__ import annotations

from typing import Any

import falcon

from taskmaster.api import problems
from taskmaster.api.actors import token_names
from taskmaster.api.board import BoardResource
from taskmaster.api.head import HeadMiddleware, with_head
from taskmaster.api.metrics import Metrics
from taskmaster.api.middleware import (
    AuthMiddleware,
    BodyMiddleware,
    MetricsMiddleware,
    RateLimitMiddleware,
)
from taskmaster.api.quiet_answers import QuietAnswers, QuietAnswersMiddleware
from taskmaster.api.ratelimit import RateLimiter
from taskmaster.api.resources.claims import ClaimCollection, ClaimItem, ClaimRenewal
from taskmaster.api.resources.commands import (
    ClearSubtasks,
    DependencyFix,
    DependencyValidation,
    Generate,
    Move,
    SetStatus,
    SubtaskNotes,
)
from taskmaster.api.resources.history import History, UndoResource
from taskmaster.api.resources.meta import (
    Doctor,
    Export,
    Health,
    MetricsResource,
    OpenApiResource,
)
from taskmaster.api.resources.tags import CurrentTag, TagCollection, TagItem
from taskmaster.api.resources.tasks import (
    Dependencies,
    Dependency,
    NextTask,
    Subtasks,
    TaskCollection,
    TaskItem,
    TaskStatus,
)
from taskmaster.api.sse import EventHub, EventsResource, FacadeJournal
from taskmaster.api.state import ApiState
from taskmaster.cache import RevisionCache
from taskmaster.compose import Project
from taskmaster.config import Config
from taskmaster.errors import InvalidInput
from taskmaster.events import Event

L2_MAX_TTL_SECONDS = 60


class TaskMasterApp(falcon.App[falcon.Request, falcon.Response]):
    """A falcon App that also owns what `create_app` set up (`state`) and can release it,
    and answers `HEAD` wherever it answers `GET`."""

    state: ApiState

    def add_route(self, uri_template: str, resource: object, **kwargs: Any) -> None:
        super().add_route(uri_template, with_head(resource), **kwargs)

    def close(self) -> None:
        """End event streams and unsubscribe from the bus. The core stays open: it was given
        to us, and whoever opened it closes it (which also stops its watcher)."""
        self.state.close()


def create_app(project: Project, config: Config | None = None) -> TaskMasterApp:
    config = config if config is not None else Config()
    core = project.core
    cache: RevisionCache[bytes] = RevisionCache(
        core.revision,
        maxsize=config.cache_maxsize,
        ttl=config.cache_ttl,
        enabled=config.cache_enabled,
    )
    metrics = Metrics(cache)
    metrics.watch_journal(core.storage)
    metrics.watch_write_groups(core.write_groups)
    hub = EventHub(
        core.bus,
        metrics,
        max_clients=config.event_stream_limit,
        queue_size=config.sse_queue_size,
    )
    state = ApiState(project, config, cache, metrics, hub)

    def invalidate(event: Event) -> None:
        cache.on_event(event)
        metrics.observe_event(event)

    if config.redis_url:
        _use_redis(project, config, cache, metrics)
    state.closers.append(core.bus.subscribe(invalidate))
    state.closers.append(hub.close)
    if config.watch:
        # After subscribing: an outside change seen from now on reaches the cache.
        state.watcher = core.watch()

    tokens = token_names(config)
    # First, so that its process_response runs last, once every other middleware is done.
    middleware: list[Any] = [HeadMiddleware(), MetricsMiddleware(metrics)]
    if config.rate_limit:
        limiter = RateLimiter(
            config.rate_limit, config.limiter_storage_uri, fallback=config.rate_limit_fallback
        )
        middleware.append(RateLimitMiddleware(limiter, metrics, tokens=tokens))
    if tokens:
        middleware.append(AuthMiddleware(tokens))
    middleware.append(BodyMiddleware(config.max_body_bytes))
    if config.cache_enabled and config.cache_maxsize > 0:
        # Its `process_resource` runs after every `process_request`: the rate limit,
        # authentication and the body checks still see every request.
        state.answers = QuietAnswers(
            core.change_epoch, maxsize=config.cache_maxsize, ttl=config.cache_ttl
        )
        middleware.append(QuietAnswersMiddleware(state.answers, state.answer_again))

    app = TaskMasterApp(middleware=middleware)
    app.state = state
    problems.install(app)

    prefix = "/api/v1"
    app.add_route(f"{prefix}/tasks", TaskCollection(state))
    app.add_route(f"{prefix}/tasks/{{task_id}}", TaskItem(state))
    app.add_route(f"{prefix}/tasks/{{task_id}}/status", TaskStatus(state))
    app.add_route(f"{prefix}/tasks/{{task_id}}/subtasks", Subtasks(state))
    app.add_route(f"{prefix}/tasks/{{task_id}}/notes", SubtaskNotes(state))
    app.add_route(f"{prefix}/tasks/{{task_id}}/dependencies", Dependencies(state))
    app.add_route(f"{prefix}/tasks/{{task_id}}/dependencies/{{dep_id}}", Dependency(state))
    app.add_route(f"{prefix}/next", NextTask(state))
    # A literal segment wins over `{task_id}` in falcon's router: "next" is no task id anyway.
    app.add_route(f"{prefix}/tasks/next", NextTask(state))
    app.add_route(f"{prefix}/claims", ClaimCollection(state))
    app.add_route(f"{prefix}/claims/{{token}}", ClaimItem(state))
    app.add_route(f"{prefix}/claims/{{token}}/renew", ClaimRenewal(state))
    app.add_route(f"{prefix}/tags", TagCollection(state))
    app.add_route(f"{prefix}/tags/{{name}}", TagItem(state))
    app.add_route(f"{prefix}/current-tag", CurrentTag(state))
    app.add_route(f"{prefix}/set-status", SetStatus(state))
    app.add_route(f"{prefix}/move", Move(state))
    app.add_route(f"{prefix}/clear-subtasks", ClearSubtasks(state))
    app.add_route(f"{prefix}/dependencies/validation", DependencyValidation(state))
    app.add_route(f"{prefix}/dependencies/fix", DependencyFix(state))
    app.add_route(f"{prefix}/generate", Generate(state))
    app.add_route(f"{prefix}/history", History(state))
    app.add_route(f"{prefix}/undo", UndoResource(state))
    events = EventsResource(hub, config.sse_heartbeat, FacadeJournal(core))
    app.add_route(f"{prefix}/events", events)
    app.add_route(f"{prefix}/export", Export(state))
    app.add_route(f"{prefix}/health", Health(state))
    app.add_route(f"{prefix}/doctor", Doctor(state))
    app.add_route(f"{prefix}/openapi.json", OpenApiResource())
    app.add_route("/metrics", MetricsResource(metrics))
    # The board: a page over the routes above, nothing of its own (see `taskmaster.api.board`).
    board = BoardResource()
    app.add_route("/", board)
    app.add_route("/board/{name}", board)
    return app


def _use_redis(
    project: Project, config: Config, cache: RevisionCache[bytes], metrics: Metrics
) -> None:
    """Share events and cached answers with the project's other instances through Redis."""
    if project.redis is None:
        raise InvalidInput(
            "a Redis URL is configured but the project was opened without Redis: open it "
            "with Settings(redis_url=url)"
        )
    # An entry is only ever found while its revision is current, so a long TTL buys little,
    # and a busy project leaves one set of keys per revision behind: a minute at most.
    second_level = project.share_cache(
        cache,
        ttl_seconds=max(1, int(min(config.cache_ttl, L2_MAX_TTL_SECONDS))),
        on_remote=metrics.observe_remote,
    )
    if second_level is not None:
        metrics.watch_redis(project.redis, second_level)
