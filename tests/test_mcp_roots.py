"""The `projectRoot` rule of `tm mcp`, on real directories and symlinks (no server, no SDK)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from taskmaster.errors import TaskMasterError
from taskmaster.mcp.roots import (
    ProjectRootRefused,
    RootPolicy,
    is_within,
    resolve_inside,
)


def make_project(path: Path) -> Path:
    (path / ".taskmaster").mkdir(parents=True)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """main (the served project), allowed/ with two projects, outside/ with one, and a
    sibling whose name starts like the allowed root's."""
    return {
        "main": make_project(tmp_path / "main"),
        "allowed": (tmp_path / "allowed"),
        "inner": make_project(tmp_path / "allowed" / "inner"),
        "deep": make_project(tmp_path / "allowed" / "group" / "deep"),
        "outside": make_project(tmp_path / "outside"),
        "evil": make_project(tmp_path / "allowed-evil"),
    }


@pytest.fixture
def policy(tree: dict[str, Path]) -> RootPolicy:
    return RootPolicy.create(tree["main"], [tree["allowed"]])


def refused(policy: RootPolicy, raw: str) -> str:
    with pytest.raises(ProjectRootRefused) as info:
        policy.check(raw)
    return str(info.value)


def test_the_served_project_and_projects_inside_allowed_roots_are_accepted(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    assert policy.check(str(tree["main"])) == tree["main"].resolve()
    assert policy.check(str(tree["main"]) + "/") == tree["main"].resolve()
    assert policy.check(str(tree["inner"])) == tree["inner"].resolve()
    assert policy.check(str(tree["deep"])) == tree["deep"].resolve()


def test_another_directory_is_refused_with_what_is_served(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    message = refused(policy, str(tree["outside"]))
    assert "is not served here" in message
    assert str(tree["main"].resolve()) in message and "--allow-root" in message


def test_dotdot_tricks_resolve_before_the_comparison(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    sneaky = f"{tree['allowed']}/inner/../../outside"
    message = refused(policy, sneaky)
    assert str(tree["outside"].resolve()) in message  # says where it really points
    refused(policy, f"{tree['main']}/../outside")
    # ... and a detour that ends where it may is fine.
    assert policy.check(f"{tree['outside']}/../main") == tree["main"].resolve()


def test_a_name_that_merely_starts_like_an_allowed_root_is_not_inside_it(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    refused(policy, str(tree["evil"]))
    assert not is_within(tree["evil"], tree["allowed"])


def test_a_symlink_out_of_an_allowed_root_is_refused(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    link = tree["allowed"] / "link-out"
    link.symlink_to(tree["outside"], target_is_directory=True)
    refused(policy, str(link))
    # A symlinked parent directory counts as well.
    (tree["allowed"] / "parent-out").symlink_to(tree["outside"].parent)
    refused(policy, str(tree["allowed"] / "parent-out" / "outside"))


def test_a_symlink_to_the_served_project_is_accepted(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    link = tree["outside"] / "to-main"
    link.symlink_to(tree["main"], target_is_directory=True)
    assert policy.check(str(link)) == tree["main"].resolve()


def test_relative_empty_and_broken_paths_are_refused(policy: RootPolicy) -> None:
    assert "absolute" in refused(policy, "main")
    assert "absolute" in refused(policy, "./main")
    assert "empty" in refused(policy, "")
    assert "empty" in refused(policy, "   ")
    assert "cannot resolve" in refused(policy, "/tmp/a\x00b")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks")
def test_a_symlink_loop_is_refused_not_a_crash(policy: RootPolicy, tree: dict[str, Path]) -> None:
    loop = tree["allowed"] / "loop"
    os.symlink(loop, loop)
    with pytest.raises(TaskMasterError):
        policy.check(str(loop))


def test_a_subdirectory_of_the_served_project_is_not_the_project(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    (tree["main"] / "src").mkdir()
    refused(policy, str(tree["main"] / "src"))


def test_a_directory_without_a_project_is_refused_with_the_fix(
    policy: RootPolicy, tree: dict[str, Path]
) -> None:
    empty = tree["allowed"] / "group"
    message = refused(policy, str(empty))
    assert "not a Task Master project" in message and "tm init" in message


def test_the_error_is_a_permission_error_and_a_taskmaster_error() -> None:
    err = ProjectRootRefused("no")
    assert isinstance(err, PermissionError) and isinstance(err, TaskMasterError)


def test_without_a_project_only_allowed_roots_are_served(tree: dict[str, Path]) -> None:
    policy = RootPolicy.create(None, [tree["allowed"]])
    assert policy.check(str(tree["inner"])) == tree["inner"].resolve()
    message = refused(policy, str(tree["main"]))
    assert "projects inside" in message


def test_allowed_roots_are_resolved_once(tree: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "allowed-link"
    link.symlink_to(tree["allowed"], target_is_directory=True)
    policy = RootPolicy.create(None, [link, tree["allowed"]])
    assert policy.allowed == (tree["allowed"].resolve(),)
    assert policy.check(str(link / "inner")) == tree["inner"].resolve()


def test_paths_inside_a_project(tree: dict[str, Path]) -> None:
    root = tree["main"].resolve()
    tasks = root / ".taskmaster" / "tasks.json"
    assert resolve_inside(root, ".taskmaster/tasks.json", "file") == tasks
    assert resolve_inside(root, str(tasks), "file") == tasks
    for escape in ("../outside/.taskmaster/tasks.json", str(tree["outside"]), "/etc/passwd"):
        with pytest.raises(ProjectRootRefused, match="outside the project"):
            resolve_inside(root, escape, "file")
    (root / "docs").symlink_to(tree["outside"], target_is_directory=True)
    with pytest.raises(ProjectRootRefused, match="'output'"):
        resolve_inside(root, "docs", "output")
