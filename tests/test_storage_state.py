"""A hypothesis state machine drives FileStorage against a plain model, with the disturbances
only files have.

Every step of the contract's machine (`tests/contract/machine.py`: writes through two
handles, tag switches, optimistic writes, editors replacing the file, corruption) plus what
other programs do to a file in particular: rewrite it in place, cut it short, and leave a
revision of the sidecar alone (as the watcher does for an in-place event).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import orjson
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from taskmaster.storage.file import FileStorage
from tests.contract.backends import FileBackend
from tests.contract.machine import ContractMachine, titles


class FileStorageMachine(ContractMachine):
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="tm-state-"))
        super().__init__(FileBackend(self.directory))
        assert isinstance(self.store, FileStorage) and isinstance(self.other, FileStorage)
        self.file_store = self.store
        self.file_other = self.other
        self.path = self.file_store.path

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.directory, ignore_errors=True)

    @precondition(lambda self: not self.corrupt)
    @rule(title=titles)
    def external_in_place_write(self, title: str) -> None:
        """An editor that saves into the same inode, in another program's compact layout."""
        self.model[max(self.model, default=0) + 1] = title
        with open(self.path, "r+b") as handle:
            handle.truncate(0)
            handle.write(orjson.dumps(self._document().data))
        self._expect_change(self.store.revision())

    @precondition(lambda self: not self.corrupt)
    @rule(cut=st.integers(min_value=1, max_value=40))
    def cut_short(self, cut: int) -> None:
        """A writer that died mid-write without our protocol: a prefix of the file."""
        raw = self.path.read_bytes().rstrip()  # cutting only whitespace would corrupt nothing
        self.path.write_bytes(raw[: max(1, len(raw) - cut)])
        self.corrupt = True
        self._expect_change(self.store.revision())

    @precondition(lambda self: not self.corrupt)
    @rule()
    def mark_changed(self) -> None:
        """A revision of the sidecar alone: both handles see it."""
        self._expect_change(self.file_other.mark_changed())


FileStorageMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None
)
TestFileStorageStateMachine = FileStorageMachine.TestCase
