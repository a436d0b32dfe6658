"""`stat` for the checks every read makes, without handing the interpreter lock to another thread.

A cached answer of `tm serve` is checked against the files' stat on every request (the revision
sidecar, the task file, state.json). `os.stat` releases the GIL around the system call, and
under 8 server threads getting it back means waiting for whichever thread took it: those waits,
not the calls, were most of a cached read's cost beyond the framework's. A stat on a local file
system answers from the kernel's caches in a microsecond or two, so on Linux these checks call
`statx` through `ctypes.PyDLL`, which keeps the GIL during the call.

On a network or FUSE file system a stat may wait for a server, and holding the GIL then would
stop every thread of the process: there (and wherever `statx` is missing, or the mount table
cannot be read) `os.stat` is used. `stat_key_for(directory)` chooses once per directory. Both
give a file's key (`stat_key`): what the checks compare.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import struct
import sys
import threading

from taskmaster.storage.stat_key import StatKey, StatKeyFunction, os_key

LOCAL_FILE_SYSTEMS = frozenset(
    {
        "bcachefs",
        "btrfs",
        "ext2",
        "ext3",
        "ext4",
        "f2fs",
        "jfs",
        "overlay",
        "ramfs",
        "reiserfs",
        "tmpfs",
        "xfs",
        "zfs",
    }
)
"""File systems whose stat never waits for a server."""

_AT_FDCWD = -100
_STATX_BASIC_STATS = 0x07FF
_NEEDED = 0x0001 | 0x0040 | 0x0100 | 0x0200 | 0x0080  # type, mtime, ino, size, ctime
_STATX_SIZE = 256
# What statx fails with where a seccomp filter (an older container runtime's) or an old kernel
# refuses the call itself; stat never fails so for a path.
_STATX_REFUSED = frozenset({errno.ENOSYS, errno.EPERM})
# struct statx (linux/stat.h), the same on every architecture: the mask, then ino and size at
# 32, ctime and mtime (seconds, nanoseconds) at 96 and 112, the device's numbers at 136.
_LAYOUT = struct.Struct("=I28xQQ48xqI4xqI4x8xII")


def stat_key_for(directory: str | os.PathLike[str]) -> StatKeyFunction:
    """The stat to use for files in `directory`: one that keeps the GIL where that is safe."""
    if _statx is None or not is_local(directory):
        return os_key
    return held_key


def held_key(path: str | bytes) -> StatKey:
    """`stat_key.os_key(path)`, through statx, the GIL held throughout."""
    assert _statx is not None
    try:
        buffer = _buffers.statx
    except AttributeError:  # one per thread: another thread may run between the call and the read
        buffer = _buffers.statx = ctypes.create_string_buffer(_STATX_SIZE)
    # Exactly bytes, an int and a buffer: the types ctypes passes as char *, int and a pointer
    # without argtypes (see `_load_statx`): a str would go as a wide string.
    if type(path) is not bytes:
        path = os.fsencode(path)
    if _statx(_AT_FDCWD, path, 0, _STATX_BASIC_STATS, buffer) != 0:
        code = ctypes.get_errno()
        if code in _STATX_REFUSED:  # a sandbox that filters statx out: stat the usual way
            return os_key(path)
        shown = os.fsdecode(path)
        if code == errno.ENOENT:
            raise FileNotFoundError(code, os.strerror(code), shown)
        raise OSError(code, os.strerror(code), shown)
    fields = _LAYOUT.unpack_from(buffer)
    if fields[0] & _NEEDED != _NEEDED:  # a file system that could not fill them: ask the usual way
        return os_key(path)
    return fields[1:]  # the key's fields, in its order (`stat_key`), after the mask


def is_local(directory: str | os.PathLike[str]) -> bool:
    """Whether `directory` is on a file system of `LOCAL_FILE_SYSTEMS`, from the mount table
    (the longest mount point above it); False when that cannot be told."""
    try:
        target = os.path.realpath(directory)
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mounts:
            table = mounts.read()
    except OSError:
        return False
    best, best_type = "", None
    for line in table.splitlines():
        fields, _, tail = line.partition(" - ")
        parts = fields.split(" ")
        if len(parts) < 5 or not tail:
            continue
        point = _unescape(parts[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, tail.split(" ", 1)[0]
    return best_type in LOCAL_FILE_SYSTEMS


def _unescape(field: str) -> str:
    r"""A mount point as the mount table escapes it (``\040`` for a space, and so on)."""
    if "\\" not in field:
        return field
    return field.encode("latin-1", "replace").decode("unicode_escape")


def _load_statx() -> ctypes._NamedFuncPointer | None:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError, AttributeError):
        # PyDLL: the call keeps the GIL (CDLL would release it, as os.stat does). No argtypes:
        # converting five arguments through them cost 0.7 microseconds a call, a third of the
        # system call's own time, and `held_key`, the only caller, passes exactly the types
        # ctypes converts by itself (bytes, ints below 2**31, a buffer).
        function = ctypes.PyDLL(None, use_errno=True).statx
        function.restype = ctypes.c_int
        return function
    return None


_statx = _load_statx()
_buffers = threading.local()
