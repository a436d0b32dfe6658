"""Durable atomic replacement of a file: readers see the old bytes or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable: without this a crash can bring the old name back."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(
    path: Path,
    data: bytes,
    *,
    durable: bool = True,
    sync_dir: bool = True,
    before_rename: Callable[[], None] | None = None,
) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, and rename it over `path`;
    `before_rename` runs between (what must be durable before the new file is visible).

    The temporary file lives in the same directory so that the rename stays on one filesystem
    (and so stays atomic); it is removed on any failure. The new file keeps the permissions of
    the one it replaces, because mkstemp's 0600 would lock other users out of a shared project.
    """
    # Imported on the first write: tempfile (with random behind it) is start-up time that a
    # read-only command such as `tm list` would pay for nothing.
    import tempfile

    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        try:
            os.fchmod(fd, _mode_for(path))
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if before_rename is not None:
            before_rename()
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if durable and sync_dir:
        fsync_directory(directory)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
