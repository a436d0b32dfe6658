"""Opening the task file or a state file without ever blocking on something that is no file.

`open()` on a FIFO waits for a writer that may never come, so a FIFO put in place of the task
file (by mistake or on purpose) would hang every reader and every request of a server. The
file is therefore opened non-blocking, which changes nothing for a regular file, and anything
but a regular file is refused with a clear error.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from taskmaster.errors import NotARegularFile


def open_regular(path: Path) -> int:
    """A read-only descriptor of `path`, which must be a regular file (NotARegularFile)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):  # what open() says of a directory, as every caller expects
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        raise NotARegularFile.at(path, mode)
    return fd
