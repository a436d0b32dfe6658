"""The naive stack of the design documents' "Current" architecture, kept only to be beaten.

Direct, non-atomic writes of the whole file and no lock: exactly what loses updates and tears
files. Every harness scenario and concurrency test also runs against this, to prove that its
check can fail. It lives here, never in the `taskmaster` package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class TornRead(ValueError):
    """The naive reader caught the file half written."""


class NaiveFileStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def read(self) -> Any:
        text = self.path.read_text()
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise TornRead(f"{self.path}: {err}") from None

    def transact(self, operation: Callable[[Any], T]) -> T:
        """Read, modify, write back, with nothing stopping another process in between."""
        data = self.read()
        result = operation(data)
        with open(self.path, "w") as handle:  # truncates first: a reader can see it half done
            handle.write(json.dumps(data, indent=2))
        return result
