"""Which directories an MCP client may name as `projectRoot`, and paths it may name inside one.

An agent chooses `projectRoot` (and `file`, `output`) itself, so every path it sends is a
request to read or write somewhere on this machine. The rule: the path, fully resolved
(`..` collapsed, every symlink followed), must be the project the server was started for, or
lie inside a directory the user allowed with `--allow-root`. Comparing resolved paths is what
makes `/allowed/../etc` and a symlink out of an allowed directory land where they really
point, and comparing whole path components is what keeps `/allowed-evil` out of `/allowed`.

Pure path logic (plus `Path.resolve` and one `is_dir`): no facade, no MCP SDK.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from taskmaster.errors import TaskMasterError
from taskmaster.project import PROJECT_DIR


class ProjectRootRefused(TaskMasterError, PermissionError):
    """A `projectRoot` (or a path inside it) that this server does not serve."""


def resolve(raw: str | Path) -> Path:
    """The real location of an absolute path: `..` collapsed and symlinks followed.

    Missing trailing parts are fine (strict=False): the check is about where a path points,
    and a nonexistent directory is reported as such by whoever opens it.
    """
    try:
        return Path(raw).resolve()
    # ValueError: a NUL byte; RuntimeError: a symlink loop (Python 3.11; OSError from 3.13).
    except (OSError, ValueError, RuntimeError) as err:
        raise ProjectRootRefused(f"cannot resolve the path {str(raw)!r}: {err}") from None


def is_within(path: Path, root: Path) -> bool:
    """`path` is `root` or below it, comparing whole components (both already resolved)."""
    return path == root or root in path.parents


def resolve_inside(base: Path, raw: str, what: str) -> Path:
    """A path given relative to `base` (or absolute) that must resolve to somewhere inside it."""
    text = raw.strip()
    if not text:
        raise ProjectRootRefused(f"'{what}' is empty")
    candidate = Path(text).expanduser()
    target = resolve(candidate if candidate.is_absolute() else base / candidate)
    if not is_within(target, base):
        raise ProjectRootRefused(
            f"'{what}' {raw!r} resolves to {target}, which is outside the project {base}; "
            "give a path inside projectRoot"
        )
    return target


@dataclass(frozen=True, slots=True)
class RootPolicy:
    """The project this server was started for and the extra roots it may serve."""

    project: Path | None
    """The server's own project root, resolved (None: only `--allow-root` projects)."""
    allowed: tuple[Path, ...] = ()
    """`--allow-root` directories, resolved: any project inside one may be named."""
    bare_project: bool = False
    """The server's own project may lack `.taskmaster/`: its tasks are at a storage URL."""

    @classmethod
    def create(
        cls,
        project: Path | str | None,
        allowed: Iterable[Path | str] = (),
        *,
        bare_project: bool = False,
    ) -> RootPolicy:
        return cls(
            resolve(project) if project is not None else None,
            tuple(dict.fromkeys(resolve(root) for root in allowed)),
            bare_project,
        )

    def check(self, raw: str) -> Path:
        """The resolved project root for a client's `projectRoot`, or ProjectRootRefused.

        The directory itself must hold `.taskmaster/`: a client naming a subdirectory is not
        silently served the project above it (which might lie outside every allowed root).
        """
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            raise ProjectRootRefused("projectRoot is empty: give the project's absolute path")
        given = Path(text).expanduser()
        if not given.is_absolute():
            # Relative to what? The server's working directory is the client's business.
            raise ProjectRootRefused(
                f"projectRoot must be an absolute path, not {raw!r}" + self._hint()
            )
        root = resolve(given)
        if not self.allows(root):
            shown = str(given) if root == given else f"{given} (resolves to {root})"
            raise ProjectRootRefused(f"projectRoot {shown} is not served here" + self._hint())
        bare = self.bare_project and root == self.project
        if not bare and not (root / PROJECT_DIR).is_dir():
            raise ProjectRootRefused(
                f"{root} is not a Task Master project (it has no {PROJECT_DIR}/ directory); "
                f"run `tm init {root}` first, or give the project's own root directory"
            )
        return root

    def confine(self, path: Path, what: str) -> Path:
        """`path` fully resolved, or ProjectRootRefused if it lands outside every served root.

        A project inside an allowed root is still a directory anyone may have filled: its
        `.taskmaster/` (or `.taskmaster/tasks/`, or the task file) can be a symlink to
        anywhere. Checking `projectRoot` alone would let such a link take reads and writes out
        of every allowed root, so each file a call touches is checked where it really is.
        """
        target = resolve(path)
        if not self.contains(target):
            shown = str(path) if target == path else f"{path} (resolves to {target})"
            raise ProjectRootRefused(
                f"the {what} {shown} lies outside every directory this server serves" + self._hint()
            )
        return target

    def contains(self, path: Path) -> bool:
        """`path` (resolved) lies inside the server's project or inside an allowed root."""
        return (self.project is not None and is_within(path, self.project)) or any(
            is_within(path, allowed) for allowed in self.allowed
        )

    def allows(self, root: Path) -> bool:
        """`root` (resolved) is the server's project or inside an allowed root."""
        return root == self.project or any(is_within(root, allowed) for allowed in self.allowed)

    def _hint(self) -> str:
        served = []
        if self.project is not None:
            served.append(f"the project {self.project}")
        served += [f"projects inside {root}" for root in self.allowed]
        return (
            f"; this server serves {' and '.join(served) or 'no project'} "
            "(start it with `tm mcp --allow-root DIR` to serve more)"
        )
