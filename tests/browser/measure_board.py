"""How fast the board is, on this machine: `python tests/browser/measure_board.py`.

- Load: a project of 1,000 tasks; from navigation start to the first render that holds every
  card (the page's `tm-board-rendered` performance mark), and one re-render alone (DOM built
  and laid out), over several page loads.
- Change to screen: `tm set-status` run as another process; from its exit to the card shown in
  its new column on the open page, 10 samples.

Prints median and max; nothing is asserted (the tests hold the page to 1 s for a change).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from board_support import chromium_path, make_project, start_server, task, tm
from playwright.sync_api import sync_playwright

STATUSES = ("pending", "in-progress", "review", "done", "deferred", "blocked", "cancelled")
LOADS = 5
CHANGES = 10


def many_tasks(count: int) -> list[dict[str, object]]:
    return [
        task(
            n,
            f"Task number {n} with a title of ordinary length",
            STATUSES[n % len(STATUSES)],
            dependencies=[n - 1] if n % 5 == 0 else [],
            subtasks=[("a step", "done"), ("another", "pending")] if n % 3 == 0 else [],
        )
        for n in range(1, count + 1)
    ]


def summary(name: str, samples: list[float]) -> str:
    return (
        f"{name}: median {statistics.median(samples):.0f} ms, max {max(samples):.0f} ms "
        f"({len(samples)} samples)"
    )


def main() -> int:
    executable = chromium_path()
    if executable is None:
        print("chromium is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        big = Path(scratch) / "big"
        big.mkdir()
        make_project(big, many_tasks(1000))
        served = start_server(big)
        loads, renders = [], []
        try:
            for _ in range(LOADS):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(served.url)
                # A locator, not wait_for_function: the page's CSP forbids the eval that needs.
                page.locator(".card").nth(999).wait_for()
                loads.append(
                    page.evaluate(
                        "performance.getEntriesByName('tm-board-rendered')"
                        ".find(() => document.querySelectorAll('.card').length === 1000)"
                        ".startTime"
                    )
                )
                renders.append(
                    page.evaluate(
                        """() => {
                            const box = document.getElementById('filter');
                            const t0 = performance.now();
                            box.dispatchEvent(new Event('input'));
                            document.body.offsetHeight;  // force the layout
                            return performance.now() - t0;
                        }"""
                    )
                )
                page.close()
        finally:
            served.stop()

        small = Path(scratch) / "small"
        small.mkdir()
        make_project(small, [task(n, f"Task {n}") for n in range(1, 21)])
        served = start_server(small)
        latencies = []
        try:
            page = browser.new_page()
            with page.expect_response(lambda r: "/api/v1/events" in r.url):
                page.goto(served.url)
            page.wait_for_selector(".card")
            for i in range(CHANGES):
                task_id = i + 1
                tm(small, "set-status", str(task_id), "done")
                exited = time.monotonic()
                page.wait_for_selector(
                    f'.column[data-status="done"] .card[data-id="{task_id}"]', timeout=5000
                )
                latencies.append((time.monotonic() - exited) * 1000)
                time.sleep(0.2)
        finally:
            served.stop()
        browser.close()
    print(summary("1,000 tasks, navigation start to every card rendered", loads))
    print(summary("1,000 tasks, one re-render (DOM and layout)", renders))
    print(summary("tm set-status exit to the card moved on screen", latencies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
