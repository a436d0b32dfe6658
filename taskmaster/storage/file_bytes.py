"""The task file's bytes, assembled from the rows a process keeps, serialising only what changed.

A long-lived process that keeps its document as rows (`resident.py`) used to serialise the whole
document for every write: at 10,000 tasks (7 MiB) that was a third of the write, for a commit
that changed one task. The file is `orjson.dumps(document, OPT_INDENT_2)` plus a newline, and in
that form every task is a run of lines of its own: the same bytes whatever the other tasks hold.
So each task's indented lines are kept, made again only for the rows a commit changed (the
image's log names them), joined in chunks of `CHUNK` tasks; a write serialises the changed
tasks and the document's skeleton (every tag without its tasks), then joins the pieces. At
10,000 tasks that is about 1 ms instead of 5-7 ms. A commit that adds, removes or moves tasks
(or one after the log stopped reaching back) makes every task's lines again, about 40 ms at
10,000 tasks, once; the first write of a kept document dumps it whole, so a process that
writes once pays nothing.

The pieces are exactly what the whole dump would write:

- a task is dumped inside a wrapper nested as deep as the task file nests it (``{"t": {"tasks":
  [task]}}`` for a tagged file, ``{"tasks": [task]}`` for a flat one), and the wrapper's own lines
  are cut off: its indentation is the file's, and a task nested too deep for the file is refused
  here as the whole dump refuses it;
- the skeleton holds, in each tag's place for its task list, a marker string with a random
  token that no task file contains; each marker is replaced by the list's lines.

When anything does not fit (a marker not found exactly once, a value orjson refuses), `of`
answers None and the caller serialises the document as before, which also raises the error the
user should see. Tests compare the two forms byte for byte over generated documents and commands.
"""

from __future__ import annotations

import secrets

import orjson

from taskmaster.storage.rows import RowImage

_INDENT = orjson.OPT_INDENT_2
# What the wrapper adds around one task, for each layout (see the module's docstring).
_TAGGED_HEAD = b'{\n  "t": {\n    "tasks": [\n'
_TAGGED_TAIL = b"\n    ]\n  }\n}"
_FLAT_HEAD = b'{\n  "tasks": [\n'
_FLAT_TAIL = b"\n  ]\n}"


CHUNK = 256
"""Tasks joined into one piece: a write joins the pieces, not every task's lines, and a change
joins again only the piece holding it."""


_EMPTY_LOG = object()
"""What `_caught_up` holds when the image's log was empty then."""


class _Lines:
    """One tag's task list as the file holds it: each task's lines and the joined chunks."""

    __slots__ = ("chunks", "lines")

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.chunks: list[bytes | None] = [None] * ((len(lines) + CHUNK - 1) // CHUNK)


class FileBytes:
    """The indented form of each task of one process's rows, and the file assembled from it.

    Not thread-safe: used under the write lock, as the rows are. Nothing is kept until the
    second write of the same rows: a process that writes once (a `tm` run) pays nothing."""

    __slots__ = ("_caught_up", "_flat", "_index", "_lists", "_marker", "_seen")

    def __init__(self) -> None:
        self._lists: dict[int, _Lines] = {}
        """Tag entry number -> its task list's lines, as last caught up."""
        self._index: dict[int, tuple[int, int]] = {}
        """Task row number -> (its tag entry, its place in the list), as last caught up."""
        self._caught_up: object | None = None
        """The image's last log entry when the lines were brought up to date (None: never)."""
        self._flat: bool | None = None
        self._seen = False
        self._marker = f"tm-tasks-{secrets.token_hex(16)}"

    def of(self, image: RowImage) -> bytes | None:
        """The task file's bytes for `image`, as `Document.to_json` writes them; None when they
        are not assembled (the first write, or something that does not fit: the caller then
        serialises the document itself)."""
        if not self._seen:
            self._seen = True
            return None
        try:
            if not self._catch_up(image):
                return None
            return self._assemble(image)
        except orjson.JSONEncodeError:  # nested too deep: the whole dump says how
            self._caught_up = None
            return None

    def _catch_up(self, image: RowImage) -> bool:
        """Bring the lines to `image`: only the changed tasks when nothing was added, removed
        or moved since (the image's log says which), else every list from scratch."""
        changed = self._changed_since_caught_up(image)
        if changed is not None and not changed <= self._index.keys():
            changed = None  # a row it never placed: start again
        self._caught_up = None  # until this is done
        if changed is None:
            self._flat = image.flat
            self._lists, self._index = {}, {}
            for number, entry in image.entries.items():
                if entry.is_tag:
                    lines = []
                    for place, row in enumerate(image.members.get(number) or ()):
                        indented = _indented_task(image.tasks[row].body, image.flat)
                        if indented is None:
                            return False
                        lines.append(indented)
                        self._index[row] = (number, place)
                    self._lists[number] = _Lines(lines)
        else:
            for row in changed:
                tag, place = self._index[row]
                indented = _indented_task(image.tasks[row].body, image.flat)
                if indented is None:
                    return False
                listed = self._lists[tag]
                listed.lines[place] = indented
                listed.chunks[place // CHUNK] = None
        self._caught_up = image.log[-1] if image.log else _EMPTY_LOG
        return True

    def _changed_since_caught_up(self, image: RowImage) -> set[int] | None:
        """The task rows changed since the lines were caught up, if only content changed;
        None when rows were added, removed or moved, or the log no longer reaches back.

        The log's entries are told apart by identity, not by revision: a file's revisions
        jump (they follow its ctime), and the rows are numbered by the steps alone."""
        last = self._caught_up
        if last is None or image.flat != self._flat:
            return None
        log = image.log
        new: list[tuple[int, frozenset[int], frozenset[int], bool]] = []
        for step in reversed(log):
            if step is last:
                break
            new.append(step)
        else:
            if last is not _EMPTY_LOG or len(log) == log.maxlen:
                return None
        changed: set[int] = set()
        for _, tasks, _, moved in new:
            if moved:
                return None
            changed |= tasks
        return changed

    def _assemble(self, image: RowImage) -> bytes | None:
        flat = image.flat
        skeleton: dict[str, object] = {}
        lists: list[int] = []
        for number in image.entry_order:
            entry = image.entries[number]
            value = orjson.loads(entry.body)
            if entry.is_tag:
                value["tasks"] = f"{self._marker}-{len(lists)}"
                lists.append(number)
            if flat:
                skeleton = value
            else:
                skeleton[entry.name] = value
        text = orjson.dumps(skeleton, option=_INDENT)
        pieces: list[bytes] = []
        start = 0
        close = b"\n  ]" if flat else b"\n    ]"
        for index, number in enumerate(lists):
            marker = f'"{self._marker}-{index}"'.encode()
            at = text.find(marker, start)
            if at < 0 or text.find(marker, at + len(marker)) >= 0:
                return None
            pieces.append(text[start:at])
            start = at + len(marker)
            listed = self._lists[number]
            if not listed.lines:
                pieces.append(b"[]")
                continue
            pieces.append(b"[\n")
            for chunk_index, chunk in enumerate(listed.chunks):
                if chunk is None:
                    first = chunk_index * CHUNK
                    chunk = b",\n".join(listed.lines[first : first + CHUNK])
                    listed.chunks[chunk_index] = chunk
                if chunk_index:
                    pieces.append(b",\n")
                pieces.append(chunk)
            pieces.append(close)
        pieces.append(text[start:])
        pieces.append(b"\n")
        return b"".join(pieces)


def _indented_task(body: bytes, flat: bool) -> bytes | None:
    """One task's lines as the task file holds them; None if the wrapper's own lines are not
    where they are expected. Raises JSONEncodeError where the whole dump would: the wrapper
    nests the task as deep."""
    task = orjson.loads(body)
    head, tail = (_FLAT_HEAD, _FLAT_TAIL) if flat else (_TAGGED_HEAD, _TAGGED_TAIL)
    wrapped = orjson.dumps({"tasks": [task]} if flat else {"t": {"tasks": [task]}}, option=_INDENT)
    if not (wrapped.startswith(head) and wrapped.endswith(tail)):
        return None
    return wrapped[len(head) : -len(tail)]
