"""Fuzz the live API against its own OpenAPI document (schemathesis).

The server runs in this process under waitress on a free port, on a small project with tasks,
subtasks and two tags. Every documented operation is called with generated valid and invalid
input; no response may be a 5xx or disagree with the document (status code, content type,
body schema). The event stream is left out: it never ends, and the server tests cover it.

One pytest test per operation and generation mode, driven by Hypothesis through
`operation.as_strategy()`: the schemathesis pytest plugin (`from_fixture(...).parametrize()`)
fails under pytest 9 (it sets `request.node._nodeid`, which pytest 9 nodes no longer have).
TM_TEST_FUZZ_EXAMPLES raises the examples per operation and mode (default 15) for a longer run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from taskmaster.api import ApiServer
from taskmaster.api.openapi import build_spec
from taskmaster.commands import AddSubtask, AddTag, AddTask
from taskmaster.compose import init_project
from taskmaster.config import Config
from taskmaster.core import TaskMaster

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_MODE = int(os.environ.get("TM_TEST_FUZZ_EXAMPLES", "15"))


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every operation; negative input only where there is input."""
    cases = []
    for path, item in build_spec()["paths"].items():
        if path == "/api/v1/events":
            continue
        for method, operation in item.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            # A free-form header cannot be made invalid: only paths, queries and bodies can.
            inputs = [p for p in operation.get("parameters", ()) if "If" not in p.get("$ref", "")]
            if inputs or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


CASES = _cases()


def _seed(core: TaskMaster) -> None:
    # Built from JSON arguments, as a front end builds them (ids as the API takes them).
    core.execute(AddTask.from_args({"title": "Set up CI", "priority": "high"}))
    core.execute(AddTask.from_args({"title": "Write docs", "dependencies": ["1"]}))
    core.execute(AddSubtask.from_args({"parent": 1, "title": "Pick a runner"}))
    core.execute(
        AddSubtask.from_args({"parent": 1, "title": "Cache the toolchain", "dependencies": ["1.1"]})
    )
    core.execute(
        AddTask.from_args({"title": "Release", "dependencies": ["1", "2"], "status": "in-progress"})
    )
    core.execute(AddTag(tag="feature", description="a second list", copy_from="master"))


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("fuzzed")
    project, _ = init_project(root)
    _seed(project.core)
    server = ApiServer(project, Config(port=0, threads=4))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server did not stop"
        project.close()


@pytest.fixture(scope="module")
def api_schema(live_url: str) -> schemathesis.BaseSchema:
    # Loaded from the server, so the document it serves is the one under test.
    return schemathesis.openapi.from_url(f"{live_url}/api/v1/openapi.json")


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode}" for m, p, mode in CASES]
)
def test_the_api_keeps_its_documented_promises(
    api_schema: schemathesis.BaseSchema,
    live_url: str,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live_url, checks=CHECKS, timeout=10)

    check()
