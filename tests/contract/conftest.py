"""The one fixture of the contract suite: `backend`, every test run once per backend.

A backend's entry (see `backends.py`) makes stores, opens second handles on them and disturbs
them as another program would; the tests use nothing else, so a new backend is one entry in
`BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.backends import BACKENDS, Backend


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    chosen = BACKENDS[request.param](tmp_path, request)
    yield chosen
    chosen.close()
