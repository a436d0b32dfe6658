"""The board's page and files at `/` and `/board/...`, beside the API and without changing it."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api

from taskmaster.api.board import CONTENT_TYPES, load_files

BOARD_DIR = Path(__file__).resolve().parents[1] / "taskmaster" / "api" / "board"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


def test_the_root_is_the_board_page(api: Api) -> None:
    result = api.get("/")
    assert result.status_code == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Task Master board</title>" in result.text
    assert 'src="board/board.js"' in result.text
    assert "script-src 'self'" in result.headers["content-security-policy"]
    assert result.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("board.js", "text/javascript; charset=utf-8"),
        ("board.css", "text/css; charset=utf-8"),
    ],
)
def test_the_board_files_have_their_content_types(api: Api, name: str, content_type: str) -> None:
    result = api.get(f"/board/{name}")
    assert result.status_code == 200
    assert result.headers["content-type"] == content_type
    assert result.content == (BOARD_DIR / name).read_bytes()


def test_a_board_file_answers_304_to_its_etag_and_head_without_a_body(api: Api) -> None:
    first = api.get("/board/board.js")
    etag = first.headers["etag"]
    again = api.get("/board/board.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    head = api.client.simulate_head("/")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(api.get("/").content)


@pytest.mark.parametrize(
    "path",
    [
        "/board/x",
        "/board/",
        "/board/../../etc/passwd",
        "/board/..%2F..%2Fetc%2Fpasswd",
        "/board/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/board/..",
        "/board/%2Fetc%2Fpasswd",
        "/board/..%5C..%5Cpyproject.toml",
        "/board/board.py",
        "/board/__init__.py",
    ],
)
def test_unknown_and_escaping_paths_are_404_problems(api: Api, path: str) -> None:
    result = api.get(path)
    assert result.status_code == 404, path
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["status"] == 404
    assert "root:" not in result.text


def test_only_the_packaged_files_are_served() -> None:
    files = load_files()
    assert set(files) == {"index.html", "board.js", "board.css"}
    on_disk = {p.name for p in BOARD_DIR.iterdir() if p.suffix in CONTENT_TYPES}
    assert set(files) == on_disk


def test_the_api_is_unchanged_beside_the_board(api: Api) -> None:
    assert api.get("/api/v1/tasks").headers["content-type"] == "application/json"
    missing = api.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert api.post("/", {"x": 1}).status_code == 405


def test_no_board_file_loads_anything_from_another_origin() -> None:
    # The board must work offline: no CDN, no remote font, no absolute URL of any kind.
    for path in sorted(BOARD_DIR.iterdir()):
        text = path.read_text(encoding="utf-8")
        found = re.findall(r"(?i)\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text)
        assert "http://" not in text.lower() and "https://" not in text.lower(), path.name
        assert not found, (path.name, found)


def test_no_board_script_puts_markup_into_the_page() -> None:
    # Task text comes from a file anyone may write: it reaches the page as textContent only.
    script = (BOARD_DIR / "board.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


def test_every_board_file_is_package_data() -> None:
    # An installed wheel has only what pyproject's package-data names.
    pyproject = tomllib.loads((BOARD_DIR.parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["taskmaster.api"]
    for path in BOARD_DIR.iterdir():
        name = f"board/{path.name}"
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
