"""`tm serve`: the REST API for this project (falcon under waitress).

falcon, waitress and watchdog are imported inside the command: every other command (and
`tm list` above all) starts without them.
"""

from __future__ import annotations

import logging
import os

import click

from taskmaster.cli.context import App, pass_app, redis_url_option
from taskmaster.config import (
    DEFAULT_CONNECTION_LIMIT,
    DEFAULT_HOST,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_SEND_BUFFER_BYTES,
    MIN_SEND_BUFFER_BYTES,
    RATE_LIMIT_FALLBACKS,
)
from taskmaster.errors import InvalidInput


@click.command("serve")
@click.option(
    "--host",
    default=None,
    help=f"Address to listen on [default: {DEFAULT_HOST}, or TM_HOST]. Anything but loopback "
    "exposes the tasks to the network: set TM_API_TOKEN then.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help=f"Port to listen on; 0 picks a free one [default: {DEFAULT_PORT}, or TM_PORT].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 1024),
    default=None,
    help="Worker threads [default: 8, or TM_THREADS]; each open event stream holds one.",
)
@click.option(
    "--max-streams",
    metavar="N",
    type=click.IntRange(0),
    default=None,
    help="Event streams (/api/v1/events) open at once; each holds a thread, a dropped one "
    "frees its slot within a second [default: half the threads, or TM_SSE_MAX_CLIENTS].",
)
@click.option(
    "--max-body-bytes",
    metavar="BYTES",
    type=click.IntRange(0),
    default=None,
    help="Largest request body; a larger one is refused (413) from its headers, unread "
    f"[default: {DEFAULT_MAX_BODY_BYTES}, or TM_MAX_BODY_BYTES].",
)
@click.option(
    "--connection-limit",
    metavar="N",
    type=click.IntRange(1),
    default=None,
    help="Open connections at most; at the limit the connection idle the longest is closed "
    f"for a new one [default: {DEFAULT_CONNECTION_LIMIT}, or TM_CONNECTION_LIMIT].",
)
@click.option(
    "--idle-timeout",
    metavar="SECONDS",
    type=click.IntRange(1),
    default=None,
    help="Close a connection that neither sends nor reads for this long, including a client "
    f"that stopped reading its answers [default: {DEFAULT_IDLE_TIMEOUT}, or TM_IDLE_TIMEOUT].",
)
@click.option(
    "--send-buffer-bytes",
    metavar="BYTES",
    type=click.IntRange(MIN_SEND_BUFFER_BYTES),
    default=None,
    help="Unread answer bytes a connection may hold; past them its next pipelined request "
    "waits, without a thread, until the client reads "
    f"[default: {DEFAULT_SEND_BUFFER_BYTES}, or TM_SEND_BUFFER_BYTES].",
)
@click.option(
    "--rate-limit",
    metavar="LIMIT",
    default=None,
    help="Requests per client, e.g. 100/minute [default: TM_RATE_LIMIT, else no limit].",
)
@click.option(
    "--rate-limit-fallback",
    type=click.Choice(RATE_LIMIT_FALLBACKS),
    default=None,
    help="When the shared (Redis) rate-limit store is unreachable: open lets requests through, "
    "local counts per instance meanwhile, closed answers 503 [default: open, or "
    "TM_RATE_LIMIT_FALLBACK].",
)
@click.option(
    "--redis-url",
    metavar="URL",
    callback=redis_url_option,
    help="Share events, cached answers and the rate limit with the project's other instances "
    "through this Redis, e.g. redis://127.0.0.1:6379/0 [default: TM_REDIS_URL, else none].",
)
@click.option(
    "--no-cache", is_flag=True, help="Serve every read from the file (no response cache)."
)
@pass_app
def serve(
    app: App,
    host: str | None,
    port: int | None,
    threads: int | None,
    max_streams: int | None,
    max_body_bytes: int | None,
    connection_limit: int | None,
    idle_timeout: int | None,
    send_buffer_bytes: int | None,
    rate_limit: str | None,
    rate_limit_fallback: str | None,
    redis_url: str | None,
    no_cache: bool,
) -> None:
    """Serve the REST API of this project until Ctrl+C (or SIGTERM).

    Reads are cached and always fresh: changes by other processes (tm, an editor, another
    server) are watched, and every cached answer is checked against the file's revision.
    Settings come from TM_* variables (TM_API_TOKEN, TM_RATE_LIMIT, TM_MAX_BODY_BYTES, ...);
    the options here win over them. The API is described at /api/v1/openapi.json.

    The board, a live page of the tasks by status, is at / (http://127.0.0.1:8765/ by
    default): drag a card or use its details to change a task.

    The limits keep clients without the token from stopping the server (large uploads, idle
    or slow connections, dropped event streams). Beyond loopback, put a reverse proxy (nginx,
    Caddy, ...) in front all the same: TLS, and limits per client address.

    Every write is recorded in the change journal (GET /api/v1/history, POST /api/v1/undo)
    with who made it: the name of its token (TM_API_TOKENS="ci:TOKEN1,alice:TOKEN2";
    TM_API_TOKEN's name is "api"), or without tokens the Tm-Actor header (else anonymous).

    Several instances on one project stay coherent and share one rate limit through Redis
    (--redis-url): change events go over pub/sub, answers are shared by revision, and if Redis
    goes away every instance keeps answering correctly (health then says "degraded").
    With PostgreSQL storage (tm --storage URL, TM_STORAGE_URL or .taskmaster/storage.toml)
    instances on different machines serve one project and stay coherent without Redis.

    \b
    Examples:
      tm serve
      tm serve --port 9000 --threads 16
      TM_API_TOKEN=secret tm serve --host 0.0.0.0
      TM_API_TOKENS=ci:secret1,alice:secret2 tm serve
      tm serve --port 8001 --redis-url redis://127.0.0.1:6379/0 --rate-limit 100/minute
    """
    from taskmaster.api.server import serve as run_server
    from taskmaster.config import Config

    if redis_url:
        app.redis_url = redis_url  # before the project is opened: it picks the event bus
    try:
        config = Config.from_env(
            os.environ,
            host=host,
            port=port,
            threads=threads,
            sse_max_clients=max_streams,
            max_body_bytes=max_body_bytes,
            connection_limit=connection_limit,
            idle_timeout=idle_timeout,
            send_buffer_bytes=send_buffer_bytes,
            rate_limit=rate_limit,
            rate_limit_fallback=rate_limit_fallback,
            redis_url=app.redis_url,
            cache_enabled=False if no_cache else None,
        )
    except InvalidInput as err:  # a bad TM_* setting is a usage error, as a bad flag is
        raise click.UsageError(str(err)) from None
    configure_logging()
    # Before the project is opened: a database backend sizes its connection pool by it.
    app.pool_size = config.threads
    app.long_lived = True
    run_server(app.project, config, announce=click.echo)


def configure_logging() -> None:
    """Warnings (Redis gone and back, a failing subscriber) as one line each on stderr.

    waitress warns "Task queue depth is N" for every request that waits for a free thread;
    under load that is one line per request, which helps no one and costs throughput.
    """
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
