"""Pure domain operations on a task `Document`.

Every function works on the document it is given, in place, and returns the objects it
created or changed; none does I/O, reads the clock (timestamps come in as ``now``) or keeps
state. A failing operation raises a `taskmaster.errors` error and leaves the document as it
was. Tasks are the stored dicts themselves; subtasks are returned as `model.subtask_view`
copies (``"id": "N.M"``).

    tasks         add_task, update_task, remove_task
    status        set_status (a subtask's parent follows its subtasks)
    subtasks      add_subtask, convert_task_to_subtask, remove_subtask, clear_subtasks,
                  append_subtask_details
    dependencies  add_dependency, remove_dependency, validate_dependencies, fix_dependencies
    move          move_tasks, place_before (within a tag);  move_tag: move_to_tag (between tags)
    tags          add_tag, copy_tag, rename_tag, delete_tag, list_tags
    next          next_task, ready_ids
"""

from taskmaster.ops.claims import (
    check_fence,
    claim_task,
    excluded_by_claims,
    expire_claims,
    find_claim,
    list_claims,
    live_claims,
    live_record,
    release_claim,
    renew_claim,
    show_claim,
)
from taskmaster.ops.dependencies import (
    DependencyIssue,
    add_dependency,
    fix_dependencies,
    remove_dependency,
    validate_dependencies,
)
from taskmaster.ops.move import move_tasks, place_before
from taskmaster.ops.move_tag import move_to_tag
from taskmaster.ops.next import next_task, ready_ids
from taskmaster.ops.status import set_status
from taskmaster.ops.subtasks import (
    add_subtask,
    append_subtask_details,
    clear_subtasks,
    convert_task_to_subtask,
    remove_subtask,
)
from taskmaster.ops.tags import add_tag, copy_tag, delete_tag, list_tags, rename_tag
from taskmaster.ops.tasks import add_task, remove_task, update_task

__all__ = [
    "DependencyIssue",
    "add_dependency",
    "add_subtask",
    "add_tag",
    "add_task",
    "append_subtask_details",
    "check_fence",
    "claim_task",
    "clear_subtasks",
    "convert_task_to_subtask",
    "copy_tag",
    "delete_tag",
    "excluded_by_claims",
    "expire_claims",
    "find_claim",
    "fix_dependencies",
    "list_claims",
    "list_tags",
    "live_claims",
    "live_record",
    "move_tasks",
    "move_to_tag",
    "next_task",
    "place_before",
    "ready_ids",
    "release_claim",
    "remove_dependency",
    "remove_subtask",
    "remove_task",
    "rename_tag",
    "renew_claim",
    "set_status",
    "show_claim",
    "update_task",
    "validate_dependencies",
]
