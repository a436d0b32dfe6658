"""The error tree: one root, builtin bases, pickling, and an honest `__all__`."""

from __future__ import annotations

import inspect
import pickle

import pytest

from taskmaster import errors

ERROR_CLASSES = [
    obj
    for name, obj in vars(errors).items()
    if inspect.isclass(obj) and issubclass(obj, Exception) and not name.startswith("_")
]


def test_all_lists_every_public_error_sorted() -> None:
    assert errors.__all__ == sorted(cls.__name__ for cls in ERROR_CLASSES)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_has_the_root_and_pickles_with_its_details(cls: type) -> None:
    assert issubclass(cls, errors.TaskMasterError)
    err = cls("something went wrong", path="/x", line=3)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is cls
    assert str(copy) == "something went wrong"
    assert (copy.path, copy.line) == ("/x", 3)


@pytest.mark.parametrize(
    ("err", "builtin"),
    [
        (errors.TaskNotFound.for_id("3.2", "master"), KeyError),
        (errors.CorruptTaskFile.at("/p", "bad"), ValueError),
        (errors.LockTimeout.on("/p.lock", 10), TimeoutError),
        (errors.ProjectNotFound.below("/x"), FileNotFoundError),
        (errors.TaskFileMissing.at("/p"), FileNotFoundError),
        (errors.DependencyCycle.through(["1", "2", "1"]), ValueError),
    ],
)
def test_errors_are_the_builtin_a_caller_would_catch(err: Exception, builtin: type) -> None:
    assert isinstance(err, builtin)


def test_key_errors_do_not_quote_their_message() -> None:
    assert str(errors.TaskNotFound.for_id(5, "master")) == "task 5 not found in tag 'master'"


def test_the_package_all_is_sorted_and_complete() -> None:
    import taskmaster

    assert taskmaster.__all__ == sorted(taskmaster.__all__)
    public_classes = {
        name
        for name, obj in vars(taskmaster).items()
        if not name.startswith("_") and inspect.isclass(obj)
    }
    assert public_classes <= set(taskmaster.__all__)
    assert all(hasattr(taskmaster, name) for name in taskmaster.__all__)
