"""Operations and reads the contract tests share, written against the contract alone."""

from __future__ import annotations

from collections.abc import Callable

from taskmaster.storage.base import Draft, ProjectState, Storage


def add_task(title: str) -> Callable[[Draft], int]:
    def operation(draft: Draft) -> int:
        document = draft.document
        task_id = document.next_task_id("master")
        document.tasks("master").append({"id": task_id, "title": title})
        return task_id

    return operation


def switch_to(tag: str | None) -> Callable[[Draft], None]:
    def operation(draft: Draft) -> None:
        draft.state = ProjectState(tag)

    return operation


def titles(store: Storage) -> list[str]:
    return [task["title"] for task in store.read().document.tasks("master")]
