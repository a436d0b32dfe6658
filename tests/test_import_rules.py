"""The layering, held by a test: who may import what.

Read from the source (every `import`, including those inside functions), so a lazy import
cannot hide an arrow the design forbids:

- front ends (CLI, REST API, MCP) import neither a storage backend nor Redis: they get a wired
  project from `taskmaster.compose`;
- the facade (`taskmaster.core`) imports the storage contract, never a backend, Redis or the
  project's layout on disk;
- domain operations (`ops/`) and commands do no I/O;
- the product never imports the harness or the benchmarks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "taskmaster"
FRONT_ENDS = ("taskmaster.cli", "taskmaster.api", "taskmaster.mcp")
STORES = ("taskmaster.storage.file", "taskmaster.storage.memory", "taskmaster.storage.postgres")
BACKENDS = (
    *STORES,
    "taskmaster.storage.state_file",
    "taskmaster.storage.watch",
    "taskmaster.storage.watch_inotify",
    "taskmaster.storage.watch_watchdog",
    "taskmaster.storage.lock",
    "taskmaster.storage.revision",
    "taskmaster.storage.atomic",
    "taskmaster.storage.kept",
    "taskmaster.storage.regular",
    "taskmaster.storage.pg_schema",
    "taskmaster.storage.rows",
    "taskmaster.storage.tracking",
    "taskmaster.redis",
    "redis",
    "psycopg",
    "psycopg_pool",
)
IO_MODULES = (
    "os",
    "io",
    "pathlib",
    "shutil",
    "socket",
    "subprocess",
    "tempfile",
    "filelock",
    "watchdog",
    "inotify_simple",
    "redis",
    "psycopg",
    "taskmaster.core",
    "taskmaster.compose",
    "taskmaster.project",
    "taskmaster.redis",
    *BACKENDS,
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, as absolute names (`from x import y` counts x and x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def offending(importer: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {imported}"
        for module, imported_names in MODULES.items()
        if within(module, importer)
        for imported in imported_names
        if within(imported, forbidden)
    )


def test_the_scan_sees_the_package_and_its_lazy_imports() -> None:
    # A scan that found nothing would pass every rule below.
    assert len(MODULES) > 60
    assert "taskmaster.storage.file" in MODULES["taskmaster.compose"]  # imported in a function
    assert within("taskmaster.redis.bus", ("taskmaster.redis",))
    assert not within("taskmaster.redistribute", ("taskmaster.redis",))


def test_front_ends_import_no_backend_and_no_redis() -> None:
    assert offending(FRONT_ENDS, BACKENDS) == []


def test_the_facade_imports_no_backend_redis_or_project_layout() -> None:
    assert offending(("taskmaster.core",), (*BACKENDS, "taskmaster.project")) == []


@pytest.mark.parametrize("layer", ["taskmaster.ops", "taskmaster.commands", "taskmaster.fields"])
def test_domain_operations_and_commands_do_no_io(layer: str) -> None:
    assert offending((layer,), IO_MODULES) == []


def test_the_product_never_imports_the_harness_or_the_benchmarks() -> None:
    assert offending(("taskmaster",), ("harness", "benchmarks")) == []


def test_only_the_composition_root_picks_a_backend_or_a_bus() -> None:
    pickers = sorted(
        module
        for module, imported_names in MODULES.items()
        if not within(module, ("taskmaster.storage", "taskmaster.redis"))
        and any(within(name, (*STORES, "taskmaster.redis")) for name in imported_names)
    )
    assert pickers == ["taskmaster.compose"]


ROW_MODEL = ("taskmaster.storage.rows", "taskmaster.storage.tracking")


@pytest.mark.parametrize("module", ROW_MODEL)
def test_the_row_model_does_no_io(module: str) -> None:
    io = tuple(name for name in IO_MODULES if name not in ROW_MODEL)
    assert offending((module,), io) == []
