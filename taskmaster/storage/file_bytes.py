"""The task file's bytes, assembled from the rows a process keeps, serialising only what changed.

A long-lived process that keeps its document as rows (`resident.py`) used to serialise the whole
document for every write: at 10,000 tasks (7 MiB) that was a third of the write, for a commit
that changed one task. The file is `orjson.dumps(document, OPT_INDENT_2)` plus a newline, and in
that form every task is a run of lines of its own: the same bytes whatever the other tasks hold.
So each task's indented lines are kept, made again only for the rows a commit changed (the
image's log names them), joined in chunks of `CHUNK` tasks; a write serialises the changed
tasks and the document's skeleton (every tag without its tasks), then joins the pieces. At
10,000 tasks that is about 1 ms instead of 5-7 ms. A commit that adds, removes or moves tasks
(or one after the log stopped reaching back) lays every list out again from the kept lines,
making lines only for rows with new bytes: a few ms at 10,000 tasks, as the whole dump was.
The first lines are made on the second write of a kept document (about 40 ms at 10,000 tasks,
once; the first write dumps it whole), so a process that writes once pays nothing.

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
    """One tag's task list as the file holds it: its rows, each task's lines and the joined
    chunks (None: to be joined again)."""

    __slots__ = ("chunks", "lines", "rows")

    def __init__(self, rows: list[int], lines: list[bytes], chunks: list[bytes | None]) -> None:
        self.rows = rows
        self.lines = lines
        self.chunks = chunks


class FileBytes:
    """The indented form of each task of one process's rows, and the file assembled from it.

    Not thread-safe: used under the write lock, as the rows are. Nothing is kept until the
    second write of the same rows: a process that writes once (a `tm` run) pays nothing."""

    __slots__ = ("_caught_up", "_flat", "_index", "_lists", "_made", "_marker", "_seen")

    def __init__(self) -> None:
        self._lists: dict[int, _Lines] = {}
        """Tag entry number -> its task list's lines, as last caught up."""
        self._index: dict[int, tuple[int, int]] = {}
        """Task row number -> (its tag entry, its place in the list), as last caught up."""
        self._made: dict[int, tuple[bytes, bytes]] = {}
        """Task row number -> (the row's bytes, the lines made from them): a task's lines are
        made again only when its row's bytes are new."""
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
        """Bring the lines to `image`. The image's log says which rows changed since, and
        whether any was added, removed or moved: then each list whose rows differ is laid out
        again around what it kept (`_relaid`); then each changed row gets new lines."""
        since = self._changes_since_caught_up(image)
        self._caught_up = None  # until this is done
        if since is None:  # never caught up, the log does not reach back, or a new layout
            if image.flat != self._flat:
                self._made = {}
            self._flat = image.flat
            self._lists, self._index = {}, {}
            changed: set[int] = set()
            moved = True
        else:
            changed, moved = since
        if moved:
            lists: dict[int, _Lines] = {}
            for number, entry in image.entries.items():
                if not entry.is_tag:
                    continue
                rows = image.members.get(number) or []
                kept = self._lists.get(number)
                relaid = kept if kept is not None and kept.rows == rows else None
                if relaid is None:
                    relaid = self._relaid(number, kept, rows, image)
                    if relaid is None:
                        return False
                lists[number] = relaid
            self._lists = lists
            if len(self._made) > 2 * len(image.tasks) + 64:
                self._forget_rows_gone(image)
        for row in changed:
            task = image.tasks.get(row)
            placed = self._index.get(row)
            if task is None or placed is None:
                continue  # removed since
            made = self._made.get(row)
            if made is not None and made[0] is task.body:
                continue  # made already, when its list was laid out again
            indented = _indented_task(task.body, image.flat)
            if indented is None:
                return False
            self._made[row] = (task.body, indented)
            tag, place = placed
            listed = self._lists[tag]
            listed.lines[place] = indented
            listed.chunks[place // CHUNK] = None
        self._caught_up = image.log[-1] if image.log else _EMPTY_LOG
        return True

    def _relaid(
        self, number: int, kept: _Lines | None, rows: list[int], image: RowImage
    ) -> _Lines | None:
        """The list of tag `number` with its rows `rows` now: the lines of the rows it starts
        and ends with as before are kept (a task added at the end, or one removed, touches
        nothing else), and so are the chunks wholly before the first difference."""
        old_rows = kept.rows if kept is not None else []
        old_lines = kept.lines if kept is not None else []
        limit = min(len(old_rows), len(rows))
        pairs = enumerate(zip(old_rows, rows, strict=False))
        prefix = next((place for place, (a, b) in pairs if a != b), limit)
        suffix = 0
        while suffix < limit - prefix and old_rows[-1 - suffix] == rows[-1 - suffix]:
            suffix += 1
        middle: list[bytes] = []
        tasks, made = image.tasks, self._made
        for row in rows[prefix : len(rows) - suffix]:
            body = tasks[row].body
            known = made.get(row)
            if known is None or known[0] is not body:
                indented = _indented_task(body, image.flat)
                if indented is None:
                    return None
                known = made[row] = (body, indented)
            middle.append(known[1])
        lines = old_lines[:prefix] + middle + old_lines[len(old_lines) - suffix :]
        index = self._index
        for place in range(prefix, len(rows)):
            index[rows[place]] = (number, place)
        chunks: list[bytes | None] = [None] * ((len(rows) + CHUNK - 1) // CHUNK)
        if kept is not None:
            whole = prefix // CHUNK  # the chunks that end before the first difference
            chunks[:whole] = kept.chunks[:whole]
        return _Lines(list(rows), lines, chunks)

    def _forget_rows_gone(self, image: RowImage) -> None:
        tasks = image.tasks
        self._made = {row: made for row, made in self._made.items() if row in tasks}
        self._index = {row: placed for row, placed in self._index.items() if row in tasks}

    def _changes_since_caught_up(self, image: RowImage) -> tuple[set[int], bool] | None:
        """The task rows changed since the lines were caught up, and whether any row was
        added, removed or moved; None when the log no longer reaches back that far.

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
        moved = False
        for _, tasks, _, step_moved in new:
            moved = moved or step_moved
            changed |= tasks
        return changed, moved

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
