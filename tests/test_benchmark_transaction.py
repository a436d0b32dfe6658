"""The transaction benchmark's floor: the same durable replace, with no taskmaster code."""

from __future__ import annotations

from pathlib import Path

import orjson

from benchmarks.transaction import floor_write


def test_the_floor_writes_the_reserialised_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    source = tmp_path / "tasks.json"
    source.write_bytes(b'{"master": {"tasks": [{"id": 1, "title": "t"}]}}')
    target = tmp_path / "floor.json"
    target.write_bytes(b"old")
    floor_write(source, target)
    assert orjson.loads(target.read_bytes()) == orjson.loads(source.read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["floor.json", "tasks.json"]
