"""All-or-nothing for the operations that can only detect a problem after they changed things.

Most operations check everything before they touch the document. A move or a conversion can
only see a cycle (through a dependency that was dangling until the move gave it a target) once
the new structure exists, so they run inside `all_or_nothing`, which snapshots the tags involved
and puts them back if anything raises. The caller then still holds an unchanged document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from taskmaster.model import Document


def json_copy(value: Any) -> Any:
    """A deep copy of parsed JSON that shares nothing with the original."""
    # A JSON round trip copies a parsed document several times faster than copy.deepcopy;
    # anything orjson cannot encode (a caller's non-JSON value) falls back to deepcopy.
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(value)


@contextmanager
def all_or_nothing(doc: Document, *tags: str) -> Iterator[None]:
    saved = {name: json_copy(doc.tag(name)) for name in dict.fromkeys(tags)}
    try:
        yield
    except BaseException:
        for name, value in saved.items():
            tag = doc.tag(name)
            tag.clear()
            tag.update(value)
        raise
