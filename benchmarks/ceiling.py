"""The framework's ceiling: a Falcon route returning fixed bytes from memory, under waitress.

`python -m benchmarks.ceiling --port N --body FILE [--threads T]`
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import falcon
import waitress


class FixedBytes:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self.body
        resp.content_type = falcon.MEDIA_JSON


def serve_on_loopback(app: object, port: int, threads: int) -> None:
    """Serve `app` under waitress as the benchmarks' own servers do (blocks)."""
    # As `tm serve` does: waitress would log a line for every request that waits for a thread.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    app = falcon.App()
    fixed = FixedBytes(args.body.read_bytes())
    app.add_route("/api/v1/tasks", fixed)
    app.add_route("/api/v1/health", fixed)
    serve_on_loopback(app, args.port, args.threads)


if __name__ == "__main__":
    main()
