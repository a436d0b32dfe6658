"""The board in a real browser: Debian's Chromium, driven by Playwright, on a real `tm serve`.

- The page shows the project's tasks in their status columns, task text as text.
- A change made by `tm` in another process reaches the open page within a second.
- Dragging a card to another column changes the task file; so does the detail panel's status
  selector, from the keyboard.
- A change made behind the page's back (the page never hears of it: its event stream is
  blocked) makes the page's next write a 412: it says so, reloads, and a retry succeeds.
- With TM_API_TOKEN the page asks for the token and keeps it in sessionStorage only.
- The console stays free of errors; a screenshot is saved (and to TM_BOARD_SCREENSHOT).

Without Chromium or Playwright these tests are skipped, unless TM_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from board_support import (
    REQUIRE_ENV,
    SCREENSHOT_ENV,
    Served,
    browser_required,
    chromium_path,
    make_project,
    start_server,
    stored_status,
    task,
    tm,
)

pytestmark = pytest.mark.slow

CHANGE_DEADLINE_S = 1.0


def _unavailable(reason: str) -> None:
    if browser_required():
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(f"{reason}; set {REQUIRE_ENV}=1 to fail instead")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable("chromium is not installed (Debian package chromium: .ci/system-packages)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Board:
    page: Any
    served: Served
    tasks_file: Path
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def column(self, status: str) -> Any:
        return self.page.locator(f'.column[data-status="{status}"]')

    def box(self, locator: Any, timeout_s: float = 5.0) -> dict[str, float]:
        """Where `locator` is on screen. Playwright gives no box for an element that is not
        visible, such as one the page is replacing while it renders an update."""
        deadline = time.monotonic() + timeout_s
        while True:
            locator.wait_for(state="visible", timeout=timeout_s * 1000)
            found: dict[str, float] | None = locator.bounding_box()
            if found is not None:
                return found
            assert time.monotonic() < deadline, "the element never stayed visible"

    def card(self, task_id: int | str) -> Any:
        return self.page.locator(f'.card[data-id="{task_id}"]')

    def titles(self, status: str) -> list[str]:
        titles: list[str] = self.column(status).locator(".card .title").all_text_contents()
        return titles

    def wait_for_card_in(self, status: str, task_id: int, timeout_s: float) -> None:
        selector = f'.column[data-status="{status}"] .card[data-id="{task_id}"]'
        self.page.wait_for_selector(selector, timeout=timeout_s * 1000)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(part in e for part in self.allowed)]


PROJECT = [
    task(1, "Set up the repository", "done", priority="high"),
    task(2, "Write the parser", "in-progress", dependencies=[1], subtasks=[("lexer", "done")]),
    task(3, "Parser tests", "pending", dependencies=[2], priority="low"),
    task(4, "Review the design", "review", priority="critical"),
    task(5, '<img src=x onerror="document.title=1"> & <b>bold</b>', "pending"),
    task(6, "Old idea", "deferred"),
]


@pytest.fixture
def open_board(browser: Any, tmp_path: Path) -> Iterator[Callable[..., Board]]:
    opened: list[tuple[Board, Any]] = []

    def open_board(
        tasks: list[dict[str, Any]] | None = None,
        *,
        before_load: Callable[[Any], None] | None = None,
        env: dict[str, str] | None = None,
        viewport: tuple[int, int] = (1400, 900),
    ) -> Board:
        root = tmp_path / f"project{len(opened)}"
        root.mkdir()
        tasks_file = make_project(root, PROJECT if tasks is None else tasks)
        served = start_server(root, **(env or {}))
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        board = Board(page, served, tasks_file)
        opened.append((board, context))
        page.on("console", lambda m: board.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda err: board.errors.append(f"pageerror: {err}"))
        if before_load is not None:
            before_load(page)
            page.goto(served.url)
        else:
            # Wait for the event stream too: a change made before it opened would be missed
            # by the test's deadline only, not by the page (it reloads when the stream opens).
            with page.expect_response(lambda r: "/api/v1/events" in r.url):
                page.goto(served.url)
        page.wait_for_selector(".card")
        return board

    try:
        yield open_board
    finally:
        for board, context in opened:
            context.close()
            board.served.stop()
        for board, _ in opened:
            assert board.unexpected_errors() == [], board.errors


def test_the_page_shows_every_task_in_its_status_column(open_board: Callable[..., Board]) -> None:
    board = open_board()
    assert board.titles("done") == ["Set up the repository"]
    assert board.titles("in-progress") == ["Write the parser"]
    assert board.titles("pending") == [
        "Parser tests",
        '<img src=x onerror="document.title=1"> & <b>bold</b>',
    ]
    assert board.titles("review") == ["Review the design"]
    assert board.titles("deferred") == ["Old idea"]
    assert board.titles("blocked") == [] and board.titles("cancelled") == []
    # Task text is text: the markup in a title made no element and ran nothing.
    assert board.page.locator("#board img, #board b").count() == 0
    assert board.page.title() == "Task Master board"
    # Empty columns start collapsed; the others are open.
    assert "collapsed" in (board.column("blocked").get_attribute("class") or "")
    assert "collapsed" not in (board.column("pending").get_attribute("class") or "")
    # Dependencies, subtasks and the task `tm next` picks.
    assert "blocked by #2" in board.card(3).inner_text()
    assert "1/1 subtasks" in board.card(2).inner_text()
    picked = _get_json(board.served, "/api/v1/next")
    assert isinstance(picked, dict)
    highlighted = board.page.locator(".card.next")
    assert highlighted.count() == 1
    assert highlighted.get_attribute("data-id") == str(picked["id"]).split(".")[0]
    # Every test's console is checked when it ends; here, on a plain load, it says nothing.
    assert board.errors == []


def _get_json(served: Served, path: str) -> object:
    with urllib.request.urlopen(served.url.rstrip("/") + path, timeout=10) as response:
        return json.loads(response.read())


def test_a_claim_shows_its_agent_and_lease(open_board: Callable[..., Board]) -> None:
    root_tasks = [task(1, "Claim me"), task(2, "Leave me")]
    board = open_board(root_tasks)
    tm(board.served.root, "claim", "1", "--agent", "alice", "--lease", "10m")
    board.page.wait_for_selector('.column[data-status="in-progress"] .card[data-id="1"] .claim')
    claim = board.card(1).locator(".claim").inner_text()
    assert claim.startswith("alice") and "left" in claim


def test_a_tm_change_appears_on_the_open_page_within_a_second(
    open_board: Callable[..., Board],
) -> None:
    board = open_board()
    tm(board.served.root, "set-status", "4", "done")
    exited = time.monotonic()
    board.wait_for_card_in("done", 4, CHANGE_DEADLINE_S)
    assert time.monotonic() - exited < CHANGE_DEADLINE_S + 0.25
    assert "Review the design" in board.titles("done")
    assert board.titles("review") == []


def test_dragging_a_card_to_done_changes_the_file(open_board: Callable[..., Board]) -> None:
    board = open_board()
    board.card(3).drag_to(board.column("done"))
    deadline = time.monotonic() + 5
    while stored_status(board.tasks_file, 3) != "done":
        assert time.monotonic() < deadline, "the drop did not change the task file"
        time.sleep(0.05)
    board.wait_for_card_in("done", 3, 2)
    history = tm(board.served.root, "history", "3").stdout
    assert "board" in history  # the page names itself as the writer


def test_the_keyboard_changes_status_and_title_from_the_detail_panel(
    open_board: Callable[..., Board],
) -> None:
    board = open_board()
    page = board.page
    board.card(6).focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail:not([hidden])")
    assert page.locator("#detail-title").inner_text() == "#6 Old idea"
    page.fill("#edit-title", "A new idea")
    page.select_option("#edit-status", "pending")
    page.locator("#edit button[type=submit]").click()
    board.wait_for_card_in("pending", 6, 2)
    assert stored_status(board.tasks_file, 6) == "pending"
    assert "A new idea" in board.titles("pending")
    page.wait_for_selector("#detail .history li:has-text('update-task')")


def test_a_change_behind_the_pages_back_is_a_conflict_then_a_retry_succeeds(
    open_board: Callable[..., Board],
) -> None:
    # The page never hears of the change: its event stream is refused.
    board = open_board(before_load=lambda page: page.route("**/api/v1/events*", _refuse))
    board.allowed += ["412 (Precondition Failed)", "net::ERR_FAILED"]
    page = board.page
    page.wait_for_selector("#stream-down:not([hidden])")
    tm(board.served.root, "set-status", "3", "review")
    board.card(3).drag_to(board.column("done"))
    page.wait_for_selector("#message:not([hidden])")
    assert "Task 3 changed meanwhile" in page.locator("#message-text").inner_text()
    assert stored_status(board.tasks_file, 3) == "review"
    # The page reloaded: it shows the change it was refused over, and a retry goes through.
    board.wait_for_card_in("review", 3, 2)
    board.card(3).drag_to(board.column("done"))
    board.wait_for_card_in("done", 3, 2)
    assert stored_status(board.tasks_file, 3) == "done"
    assert page.locator("#message").is_hidden()


def _refuse(route: Any) -> None:
    route.abort()


def test_the_page_says_when_the_stream_is_down_and_catches_up_when_it_is_back(
    open_board: Callable[..., Board],
) -> None:
    board = open_board(before_load=lambda page: page.route("**/api/v1/events*", _refuse))
    board.allowed.append("net::ERR_FAILED")
    page = board.page
    page.wait_for_selector("#stream-down:not([hidden])")
    tm(board.served.root, "set-status", "6", "done")
    page.unroute("**/api/v1/events*")
    # The browser retries by itself (every few seconds) and the page reloads once it is back.
    page.wait_for_selector("#stream-down", state="hidden", timeout=15_000)
    board.wait_for_card_in("done", 6, 5)
    tm(board.served.root, "set-status", "6", "pending")
    board.wait_for_card_in("pending", 6, CHANGE_DEADLINE_S)


def test_a_token_is_asked_for_and_kept_in_session_storage_only(
    open_board: Callable[..., Board],
) -> None:
    board = open_board(env={"TM_API_TOKEN": "s3cret"})
    board.allowed.append("401 (Unauthorized)")
    page = board.page
    board.card(5).drag_to(board.column("cancelled"))
    page.wait_for_selector("#token-dialog[open]")
    page.fill("#token-input", "s3cret")
    page.locator("#token-form button[type=submit]").click()
    board.wait_for_card_in("cancelled", 5, 2)
    assert stored_status(board.tasks_file, 5) == "cancelled"
    assert page.evaluate("sessionStorage.getItem('tm-board-token')") == "s3cret"
    assert page.evaluate("localStorage.length") == 0


def test_the_tag_switcher_shows_another_tags_tasks_and_writes_there(
    open_board: Callable[..., Board],
) -> None:
    board = open_board()
    root = board.served.root
    tm(root, "tags", "add", "feature")
    tm(root, "--tag", "feature", "add-task", "--title", "Only in feature")
    page = board.page
    page.wait_for_selector('#tag option[value="feature"]', state="attached")
    page.select_option("#tag", "feature")
    page.wait_for_selector('.card .title:text-is("Only in feature")')
    assert page.locator(".card").count() == 1
    assert page.evaluate("location.hash") == "#tag=feature"
    board.card(1).drag_to(board.column("done"))
    board.wait_for_card_in("done", 1, 2)
    assert stored_status(board.tasks_file, 1, tag="feature") == "done"
    assert stored_status(board.tasks_file, 1) == "done"  # master's task 1 was done already
    assert stored_status(board.tasks_file, 4) == "review"  # and nothing else in master moved


def test_a_narrow_window_stacks_the_columns(open_board: Callable[..., Board]) -> None:
    board = open_board(viewport=(420, 800))
    boxes = [board.box(board.column(s)) for s in ("pending", "in-progress", "done")]
    assert len({round(box["x"]) for box in boxes}) == 1  # one above the other
    assert all(box["x"] + box["width"] <= 420 for box in boxes)


def test_the_filter_box_narrows_the_cards(open_board: Callable[..., Board]) -> None:
    board = open_board()
    board.page.fill("#filter", "parser")
    assert board.page.locator(".card").count() == 2
    board.page.fill("#filter", "#4")
    assert board.page.locator(".card .title").all_text_contents() == ["Review the design"]


def test_a_screenshot_of_the_board(open_board: Callable[..., Board], tmp_path: Path) -> None:
    statuses = ["pending"] * 6 + ["in-progress"] * 3 + ["review"] * 3 + ["done"] * 5
    statuses += ["blocked", "deferred", "cancelled"]
    titles = [
        "Design the storage format",
        "Write the CLI",
        "Add tags",
        "REST API",
        "Event stream",
        "Claims and leases",
        "Change journal",
        "Undo",
        "Redis fan-out",
        "PostgreSQL backend",
        "Rate limiting",
        "OpenAPI document",
        "Board page",
        "Dependency checks",
        "Paging",
        "MCP server",
        "Benchmarks",
        "Release notes",
        "Packaging",
        "Docs site",
    ]
    tasks = [
        task(
            n,
            titles[n - 1],
            statuses[n - 1],
            priority=("high", "medium", "low", "critical")[n % 4],
            dependencies=[n - 1] if n % 3 == 0 else [],
            subtasks=[("first step", "done"), ("second step", "pending")] if n % 4 == 1 else [],
        )
        for n in range(1, 21)
    ]
    board = open_board(tasks)
    tm(board.served.root, "claim", "2", "--agent", "alice", "--lease", "30m")
    board.page.wait_for_selector('.card[data-id="2"] .claim')
    path = tmp_path / "board.png"
    board.page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    wanted = os.environ.get(SCREENSHOT_ENV)
    if wanted:
        Path(wanted).parent.mkdir(parents=True, exist_ok=True)
        Path(wanted).write_bytes(path.read_bytes())


def test_a_missing_browser_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=REQUIRE_ENV):
        _unavailable("chromium is not installed")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="requires it"):
        _unavailable("chromium is not installed")
