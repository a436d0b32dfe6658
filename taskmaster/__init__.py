"""Task Master Pro: a task manager whose tasks.json many processes share safely.

Everything a program needs is re-exported here: `open_project` wires a project, and front
ends go through its `TaskMaster`.
"""

from taskmaster.compose import Project, Settings, init_project, open_project
from taskmaster.core import Read, TaskList, TaskMaster
from taskmaster.errors import (
    CorruptTaskFile,
    DependencyCycle,
    DependencyError,
    InvalidInput,
    LockTimeout,
    NotFound,
    ProjectNotFound,
    ProtectedTag,
    RevisionMismatch,
    StorageError,
    StorageUnavailable,
    TagExists,
    TagNotFound,
    TaskFileMissing,
    TaskMasterError,
    TaskNotFound,
)
from taskmaster.model import DEFAULT_TAG, PRIORITIES, STATUSES, Document, TaskId
from taskmaster.storage import Commit, ProjectState, Snapshot, Storage

__version__ = "0.1.0"

__all__ = [
    "Commit",
    "CorruptTaskFile",
    "DEFAULT_TAG",
    "DependencyCycle",
    "DependencyError",
    "Document",
    "InvalidInput",
    "LockTimeout",
    "NotFound",
    "PRIORITIES",
    "Project",
    "ProjectNotFound",
    "ProjectState",
    "ProtectedTag",
    "Read",
    "RevisionMismatch",
    "STATUSES",
    "Settings",
    "Snapshot",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "TagExists",
    "TagNotFound",
    "TaskFileMissing",
    "TaskId",
    "TaskList",
    "TaskMaster",
    "TaskMasterError",
    "TaskNotFound",
    "init_project",
    "open_project",
]
