"""Where a project lives: the storage contract (`base`) and its backends (`file`, `memory`).

Only the contract is exported here: a backend is chosen and imported in one place,
`taskmaster.compose`.
"""

from taskmaster.storage.base import (
    DEFAULT_LOCK_TIMEOUT,
    ChangeFeed,
    Commit,
    Draft,
    ProjectState,
    Snapshot,
    Storage,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "ChangeFeed",
    "Commit",
    "Draft",
    "ProjectState",
    "Snapshot",
    "Storage",
]
