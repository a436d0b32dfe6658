"""Every write, described once as data (see `base.py`); `COMMANDS` maps names to classes."""

from taskmaster.commands.base import COMMANDS, Command, TaskCommand, Work, command_from_json
from taskmaster.commands.claims import ClaimTask, ReleaseClaim, RenewClaim
from taskmaster.commands.dependencies import AddDependency, FixDependencies, RemoveDependency
from taskmaster.commands.history import Undo
from taskmaster.commands.moves import Move, MoveToTag, PlaceBefore
from taskmaster.commands.subtasks import AddSubtask, ClearSubtasks, ConvertToSubtask, RemoveSubtask
from taskmaster.commands.tags import AddTag, CopyTag, DeleteTag, RenameTag, UseTag
from taskmaster.commands.tasks import AddTask, AppendSubtaskNotes, RemoveTask, SetStatus, UpdateTask

__all__ = [
    "COMMANDS",
    "AddDependency",
    "AddSubtask",
    "AddTag",
    "AddTask",
    "AppendSubtaskNotes",
    "ClaimTask",
    "ClearSubtasks",
    "Command",
    "ConvertToSubtask",
    "CopyTag",
    "DeleteTag",
    "FixDependencies",
    "Move",
    "MoveToTag",
    "PlaceBefore",
    "ReleaseClaim",
    "RemoveDependency",
    "RemoveSubtask",
    "RemoveTask",
    "RenameTag",
    "RenewClaim",
    "SetStatus",
    "TaskCommand",
    "Undo",
    "UpdateTask",
    "UseTag",
    "Work",
    "command_from_json",
]
