"""The public surface of taskmaster.ops."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import taskmaster.ops as ops


def _public_modules():
    for info in pkgutil.iter_modules(ops.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"taskmaster.ops.{info.name}")


def test_all_is_sorted_and_is_every_public_module_s_operations() -> None:
    exported = [name for module in _public_modules() for name in module.__all__]
    assert len(exported) == len(set(exported))
    assert ops.__all__ == sorted(exported)
    for module in _public_modules():
        for name in module.__all__:
            assert getattr(ops, name) is getattr(module, name), name


def test_every_public_operation_is_documented_and_typed() -> None:
    for name in ops.__all__:
        value = getattr(ops, name)
        assert (value.__doc__ or "").strip(), name
        if inspect.isfunction(value):
            signature = inspect.signature(value)
            assert signature.return_annotation is not inspect.Signature.empty, name
            for parameter in signature.parameters.values():
                assert parameter.annotation is not inspect.Parameter.empty, (name, parameter)
