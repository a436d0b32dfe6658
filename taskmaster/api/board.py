"""The board: a live page over the API, served at `/` with its files under `/board/`.

The files ship inside the package (`taskmaster/api/board/`) and are read once, when the app is
created: a request can only ever get one of those bytes, looked up by exact name, so no path a
client sends (`..`, encoded slashes, absolute paths) reaches the file system. An unknown name is
the same 404 problem as any unknown route.

The page is plain HTML, CSS and an ES module with no third-party code, so it works offline; its
Content-Security-Policy allows only this origin, which also keeps task text (anyone may write
the shared file) from ever running as script, even if a bug put it into markup.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import falcon

from taskmaster.api.problems import Problem

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
INDEX = "index.html"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class BoardFile:
    __slots__ = ("content_type", "data", "etag")

    def __init__(self, data: bytes, content_type: str) -> None:
        self.data = data
        self.content_type = content_type
        self.etag = hashlib.sha256(data).hexdigest()[:20]


def load_files() -> dict[str, BoardFile]:
    """Every servable file of the package's board directory, by name."""
    folder = resources.files("taskmaster.api").joinpath("board")
    files: dict[str, BoardFile] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files[entry.name] = BoardFile(entry.read_bytes(), CONTENT_TYPES[suffix])
    return files


class BoardResource:
    """`GET /` (the page) and `GET /board/{name}` (its script and style sheet)."""

    def __init__(self, files: dict[str, BoardFile] | None = None) -> None:
        self.files = files if files is not None else load_files()

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str = INDEX) -> None:
        found = self.files.get(name)
        if found is None:
            raise Problem(404, f"no board file {name!r}", title="Not Found")
        # Revalidated on every load (cheap: a 304), so an upgraded package is seen at once.
        resp.cache_control = ["no-cache"]
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        resp.etag = f'"{found.etag}"'
        if _matches(req, found.etag):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = found.content_type
        resp.data = found.data


def _matches(req: falcon.Request, tag: str) -> bool:
    tags = req.if_none_match
    return bool(tags) and any(str(t) in ("*", tag) for t in tags or [])
