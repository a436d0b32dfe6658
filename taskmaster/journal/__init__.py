"""The change journal: one entry per commit, field by field, durable with the commit.

`changes` computes and inverts field-level differences (pure); `entry` builds entries and
filters them; `file` is the file backend's sidecar, written so that a writer killed at any
instant leaves neither a commit without its entry nor an entry without its commit.
"""

from taskmaster.journal.entry import Entry, Origin, default_actor

__all__ = ["Entry", "Origin", "default_actor"]
