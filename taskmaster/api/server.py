"""Running the API under waitress: `serve(project, config)` for `tm serve`, `ApiServer` to embed.

Shutdown order matters: event streams are ended first, because each holds a server thread and
waitress waits for its threads before it returns; then the sockets close; the caller's core
(and with it the watcher thread) is closed last.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from waitress import wasyncore

from taskmaster.api.app import TaskMasterApp, create_app
from taskmaster.api.connections import create_server
from taskmaster.compose import Project
from taskmaster.config import Config

# The interpreter's switch interval is left at its default (5 ms) on purpose. A shorter one
# speeds up the watcher's event delivery under load, but it cost most of the throughput here
# (cached GET /api/v1/tasks: 0.79 of a bare Falcon route at 5 ms, 0.47 at 2 ms, 0.33-0.59 at
# 0.5 ms), while freshness does not wait for events: every cached answer is checked against
# the file's revision (write-ack -> fresh answer p99 8 ms at 5 ms, 3.8 ms at 2 ms).


class ApiServer:
    """The app on a waitress server bound at construction (so `url` is known, even for
    port 0). `run()` blocks until `stop()` is called from any thread, or a signal arrives."""

    def __init__(self, project: Project, config: Config) -> None:
        self.config = config
        self.app: TaskMasterApp = create_app(project, config)
        self._map: dict[Any, Any] = {}  # ours, so that stop() can empty it
        self._server = create_server(self.app, self._map, config)
        # The map's entries from the loop's end (`_end_loop`) until the shutdown closes them.
        self._parked: dict[Any, Any] = {}
        # stop() pulls waitress's trigger (a pipe) at most once, and never after the shutdown
        # began: a closed pipe's descriptor number may already belong to another file, which a
        # late pull would write into. The shutdown starts under this lock, so it closes the
        # trigger only after a pull under way has finished.
        self._trigger_lock = threading.Lock()
        self._stop_requested = False
        self._stopped = False

    @property
    def url(self) -> str:
        host = str(self._server.effective_host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._server.effective_port}"

    def run(self) -> None:
        try:
            self._server.run()
        finally:
            self._shutdown()

    def stop(self) -> None:
        """Ask the server loop to finish; safe from any thread, at any time, more than once
        (not from a signal handler: use `request_stop` there)."""
        self.app.state.hub.close()
        with self._trigger_lock:
            if self._stop_requested or self._stopped:
                return
            self._stop_requested = True
            # types-waitress has the thunk take an argument; waitress calls it with none.
            self._server.trigger.pull_trigger(self._end_loop)  # type: ignore[arg-type]

    def request_stop(self) -> None:
        """For a signal handler in the loop's thread: waitress's loop ends on SystemExit."""
        self.app.state.hub.close()
        raise SystemExit(0)

    def _end_loop(self) -> None:
        """In the loop's thread: the loop runs while its socket map is not empty, so empty it.

        Nothing is closed here (closing the server closes the trigger too): the loop may run
        this, woken by a worker's pull, before stop()'s own write to the trigger happened.
        """
        self._parked.update(self._map)
        self._map.clear()

    def _shutdown(self) -> None:
        with self._trigger_lock:
            if self._stopped:
                return
            self._stopped = True
        self.app.close()
        self._server.task_dispatcher.shutdown()  # the workers pull the trigger too
        self._map.update(self._parked)
        wasyncore.close_all(self._map)


def serve(
    project: Project,
    config: Config,
    *,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until SIGINT or SIGTERM; then stop cleanly and close `project` (and its watcher)."""
    server = ApiServer(project, config)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # A second signal gets the default behaviour: a stuck shutdown can still be killed.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        server.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        location = project.core.storage.describe()["location"]
        announce(f"Serving {location} on {server.url}/api/v1 (Ctrl+C to stop)")
        announce(f"Board: {server.url}/")
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        project.close()
