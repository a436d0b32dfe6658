"""The cross-process write lock: flock on the directory that holds the task file.

A lock *file* can be deleted while it is held (`rm *.lock`, `git clean -fX`): the next writer
then creates a new inode at the same name, locks it, and two writers are in at once. Checking
after acquiring that the locked inode is still the one at the path does not help, because the
newcomer's inode *is* the one at the path; only the first holder could notice, and it does not
look again. A directory cannot be removed while the task file is in it, and renaming it moves the
task file too, so every writer of one file meets the same inode. Opening it needs no write access
and creates nothing.

filelock keeps the timeout, poll and per-thread reentrancy loop; this class only says how to
take and drop the lock. The reference tool's `tasks.json.lock` is another protocol, held in
addition by writes of the task file (`reference_lock.py`).
"""

from __future__ import annotations

import fcntl
import os

from filelock import BaseFileLock


class DirectoryLock(BaseFileLock):
    """An exclusive flock on a directory (given as the lock "file")."""

    def _acquire(self) -> None:
        fd = os.open(self.lock_file, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # held by another open directory: filelock polls again
            os.close(fd)
            return
        except BaseException:
            os.close(fd)
            raise
        self._mark_descriptor_owned(fd)

    def _release(self) -> None:
        fd = self._context.lock_file_fd
        assert fd is not None  # filelock releases only what it holds
        fcntl.flock(fd, fcntl.LOCK_UN)
        self._mark_descriptor_released()
        os.close(fd)
