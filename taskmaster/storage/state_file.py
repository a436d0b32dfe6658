"""The file backend's project state: `.taskmaster/state.json`, as the reference tool keeps it.

The current tag is `currentTag` in state.json; when state.json names none, the reference
tool's `config.json` (`global.defaultTag`) does. Other keys the reference tool keeps there are
preserved by every write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from taskmaster.errors import CorruptStateFile
from taskmaster.storage.atomic import replace_file
from taskmaster.storage.base import ProjectState
from taskmaster.storage.change_gate import Gated
from taskmaster.storage.regular import open_regular
from taskmaster.storage.stat_key import os_key

if TYPE_CHECKING:
    from taskmaster.storage.change_gate import ChangeGate
    from taskmaster.storage.stat_key import StatKey, StatKeyFunction

_UNUSED = object()


def read_json_object(path: Path) -> dict[str, Any]:
    """A small JSON settings file; absent means empty, unparsable is CorruptStateFile.

    Its own error, not the task file's: the tasks are fine, and the message says how to
    repair this file instead.
    """
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if not raw.strip():
            raise CorruptStateFile.at(path, "the file is empty") from None
        raise CorruptStateFile.at(
            path, str(err).split(": line")[0], line=err.lineno, column=err.colno
        ) from None
    if not isinstance(data, dict):
        raise CorruptStateFile.at(path, "expected a JSON object")
    return data


class StateFile:
    """The project state, re-read only when state.json (or, when it names no tag, config.json)
    changed on disk.

    A server asks on every request; a stat call replaces a file read and a JSON parse. While
    state.json names the tag, config.json cannot change the answer, so only state.json is
    watched then: every stat releases the GIL, and that showed in server throughput.
    """

    def __init__(
        self,
        state_file: Path,
        config_file: Path | None = None,
        *,
        stat_key: StatKeyFunction = os_key,
        gate: ChangeGate | None = None,
    ) -> None:
        """`stat_key`: what `get` calls on every request (a server's keeps the GIL where that is
        safe: `quick_stat.stat_key_for`). `gate`: one watching both files, which spares those
        stats while nothing changed (`change_gate.py`)."""
        self.path = state_file
        self.config_path = config_file
        # Encoded once: building Path objects (or encoding) cost more than the stat calls.
        self._state = os.fsencode(state_file)
        self._config = os.fsencode(config_file) if config_file is not None else None
        self._stat_key = stat_key
        self._seen: tuple[object, object, ProjectState] | None = None
        """(state.json's stat key, config.json's or _UNUSED, the state)."""
        self._gated = Gated(gate, self._stat_get) if gate is not None else None

    def get(self) -> ProjectState:
        gated = self._gated
        return gated.get() if gated is not None else self._stat_get()

    def _stat_get(self) -> ProjectState:
        state_key = _key(self._state, self._stat_key)
        seen = self._seen
        if (
            seen is not None
            and seen[0] == state_key
            and (seen[1] is _UNUSED or seen[1] == _key(self._config, self._stat_key))
        ):
            return seen[2]
        # Both keys are taken before the reads: a change racing them costs a re-read later.
        config_key = _key(self._config, self._stat_key)
        state, from_state = self._load()
        self._seen = (state_key, _UNUSED if from_state else config_key, state)
        return state

    def _load(self) -> tuple[ProjectState, bool]:
        """The state, and whether state.json named the tag (else config.json's default)."""
        tag = read_json_object(self.path).get("currentTag")
        if isinstance(tag, str) and tag:
            return ProjectState(tag), True
        if self.config_path is None:
            return ProjectState(None), False
        config = read_json_object(self.config_path)
        default = config.get("global", {}).get("defaultTag") if isinstance(config, dict) else None
        return ProjectState(default if isinstance(default, str) and default else None), False

    def stored_or_none(self) -> ProjectState | None:
        """The state as stored, or None when it cannot be read (a write then repairs it)."""
        try:
            return self._load()[0]
        except CorruptStateFile:
            return None

    def exists(self) -> bool:
        return self.path.exists()

    def write(self, state: ProjectState) -> None:
        # Read-modify-write keeps the reference tool's other state keys; a corrupt file has
        # none worth keeping, and choosing the tag is how a user repairs it.
        try:
            data = read_json_object(self.path)
        except CorruptStateFile:
            data = {}
        if state.current_tag is None:
            data.pop("currentTag", None)
        else:
            data["currentTag"] = state.current_tag
        replace_file(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def _key(path: bytes | None, stat_key: StatKeyFunction) -> StatKey | None:
    if path is None:
        return None
    try:
        return stat_key(path)
    except FileNotFoundError:
        return None
