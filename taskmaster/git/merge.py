"""A three-way merge of task files: what git's line merge cannot do with `tasks.json`.

Two branches that each add a task both append an object after the last task, and both pick
the same new id (the tag's max id + 1): a line merge either conflicts or, worse, succeeds
with two tasks sharing an id. This merge works on the documents instead: per tag, per task
(keyed by id, not by position), per field, and subtasks per subtask, per field. Keys it does
not know (at the top level, in a tag, its metadata, a task or a subtask) are merged like any
field, so nothing another tool stores is lost.

The rules, for each place (a tag, a task, a field):

- changed on one side only: that side's value; changed identically on both: that value;
- changed differently on both: a `Conflict`, and ours' value stays there, so the result is
  always a valid task file (never conflict markers) that a person can fix with `tm` or an
  editor;
- removed on one side and unchanged on the other: removed; removed on one side and changed
  on the other: a conflict (ours' choice stays);
- objects changed on both sides merge key by key; other values (a title, a list) conflict;
- `dependencies` lists merge as sets (each side's additions and removals are applied), since
  two branches that each add a dependency to a task mean both;
- timestamps named `updated`/`updatedAt` take the later value and `created`/`createdAt` the
  earlier one instead of conflicting: both sides touching a tag or task moves its `updated`
  by design, and a conflict there would make every concurrent edit a conflict;
- tasks keep ours' order; a task only theirs added goes after the task theirs has it after
  (and after tasks ours added at that place), so the result does not depend on timing.

Renumbering: when both sides added a task under the same id (not in the base, present on both
with different content), theirs' task gets a new id, the tag's max id + 1 (in theirs' order
when there are several; the max over the base and both sides, so that a removed task's id is
not handed out again), and every reference to it in theirs' new or changed content of
that tag is rewritten: task dependencies, dotted `"12.3"` subtask references, its subtasks'
parent links. Other tags are untouched (ids are per tag). Subtasks added on both sides to the
same parent under the same id are renumbered the same way within the parent (bare sibling
numbers and dotted references alike). Every renumbering is reported.

A dependency the merge leaves pointing at nothing (one side removed a task, the other made
something depend on it) is reported as `Dangling` and makes the merge unclean, like a
conflict: each side was consistent, the result is not, and only a person knows which to keep.

Pure: no I/O. Inputs are the three files' bytes (an empty base means the file was added on
both sides), parsed JSON values or `Document`s; they are not modified.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from taskmaster.errors import InvalidInput
from taskmaster.model import DEFAULT_TAG, Document
from taskmaster.shape import is_tag


class _Missing:
    """The value of a key or an item a side does not have."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"


MISSING: Any = _Missing()

LATER_WINS = frozenset({"updated", "updatedAt"})
EARLIER_WINS = frozenset({"created", "createdAt"})
_DOTTED = re.compile(r"\s*([0-9]+)\.([0-9]+)\s*", re.ASCII)

Side = bytes | str | Mapping[str, Any] | Document | None


class MergeError(InvalidInput):
    """The files cannot be merged by id (a side holds two tasks with one id): nothing merged."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """A place both sides changed differently; ours' value was kept there.

    `tag` is None for a top-level key that is not a tag; `item` the task or subtask id ("5",
    "5.2") or None for a tag-level place; `field` the key path inside it ("title",
    "metadata.owner"), "" when the whole tag or item was removed on one side and changed on
    the other. A side without the place has `MISSING`.
    """

    tag: str | None
    item: str | None
    field: str
    base: Any
    ours: Any
    theirs: Any

    def place(self) -> str:
        parts = []
        if self.tag is not None:
            parts.append(f"tag '{self.tag}'")
        if self.item is not None:
            parts.append(("subtask " if "." in self.item else "task ") + self.item)
        if self.field:
            parts.append(self.field)
        return ", ".join(parts) or "the top level"

    def describe(self, width: int = 40) -> str:
        """One line: where, and ours vs theirs, each shortened to `width` characters."""
        return (
            f"{self.place()}: ours {shorten(self.ours, width)} vs theirs "
            f"{shorten(self.theirs, width)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """As `--json` reports it: absent values are left out (`"ours"` missing = removed)."""
        out: dict[str, Any] = {"tag": self.tag, "id": self.item, "field": self.field}
        for name in ("base", "ours", "theirs"):
            value = getattr(self, name)
            if value is not MISSING:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class Renumbered:
    """Theirs' task (or subtask) `old` of `tag` is `new` in the merged file."""

    tag: str
    old: str
    new: str

    def describe(self) -> str:
        kind = "subtask" if "." in self.old else "task"
        return f"tag '{self.tag}': theirs' new {kind} {self.old} is now {self.new}"

    def to_dict(self) -> dict[str, str]:
        return {"tag": self.tag, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class Dangling:
    """A dependency the merge left pointing at nothing: one side removed the task (or
    subtask) while the other made `item` depend on it. Neither side alone had it dangling,
    so it is reported like a conflict, for a person to decide (`tm fix-dependencies` drops
    it, `tm add-dependency` can point it elsewhere)."""

    tag: str
    item: str
    dependency: str

    def describe(self) -> str:
        kind = "subtask" if "." in self.item else "task"
        return (
            f"tag '{self.tag}', {kind} {self.item}: depends on {self.dependency}, which the "
            "merge left out (one side removed it, the other depends on it)"
        )

    def to_dict(self) -> dict[str, str]:
        return {"tag": self.tag, "id": self.item, "dependency": self.dependency}


@dataclass(slots=True)
class MergeResult:
    document: Document
    conflicts: list[Conflict] = field(default_factory=list)
    renumbered: list[Renumbered] = field(default_factory=list)
    dangling: list[Dangling] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts and not self.dangling

    def to_json(self) -> bytes:
        """The merged file as the project writes it (2-space JSON, like the reference)."""
        return self.document.to_json()

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "conflicts": [conflict.to_dict() for conflict in self.conflicts],
            "renumbered": [item.to_dict() for item in self.renumbered],
            "dangling": [item.to_dict() for item in self.dangling],
        }


def shorten(value: Any, width: int = 40) -> str:
    """A value as a conflict line shows it: JSON, cut to `width` characters; a whole tag or
    task by what it is."""
    if value is MISSING:
        return "(removed)"
    if is_tag(value):
        return f"(the tag, {len(value['tasks'])} tasks)"
    if isinstance(value, dict) and "id" in value and "title" in value:
        label = f"(the task {value['title']!r})"
        return label if len(label) <= width else label[: width - 4] + "...)"
    text = _json_text(value)
    text = " ".join(text.split())  # one line: a title with line breaks must not split it
    return text if len(text) <= width else text[: width - 3] + "..."


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


# the entry point --------------------------------------------------------------------------------


def merge(base: Side, ours: Side, theirs: Side) -> MergeResult:
    """Merge `theirs` into `ours` with `base` their common ancestor (None or empty bytes: no
    ancestor, the file was added on both sides). Raises CorruptTaskFile or NotATaskFile
    (naming the side) when a side is no task file, MergeError when ids cannot key the merge."""
    base_doc = _document(base, "base (the common ancestor)", allow_empty=True)
    ours_doc = _document(ours, "ours (the current branch)")
    theirs_doc = _document(theirs, "theirs (the branch being merged)")
    merger = _Merger()
    views = [_tags_view(doc) for doc in (base_doc, ours_doc, theirs_doc)]
    data = merger.document(*views)
    dangling: list[Dangling] = []
    found = _dangling(data)
    if found:  # rare: only then are the sides looked at, for what each had already
        before = _dangling(views[1]) | _dangling(views[2])
        dangling = [Dangling(*item) for item in sorted(found - before)]
    # Flat stays flat only when both sides still are: a side that made a second tag made
    # the file tagged, and the merge must keep that tag.
    flat = ours_doc.flat and theirs_doc.flat and (base_doc.flat or not base_doc.data)
    if flat:
        data = data.get(DEFAULT_TAG, {"tasks": []})
    document = Document.from_data(data, "the merged file")
    return MergeResult(document, merger.conflicts, merger.renumbered, dangling)


def _dangling(view: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    """(tag, item, dependency) for every dependency naming no task or subtask of its tag
    (text that is no id at all is validation's business, not the merge's)."""
    found: set[tuple[str, str, str]] = set()
    for tag, value in view.items():
        if not is_tag(value):
            continue
        tasks = [task for task in value["tasks"] if isinstance(task, dict)]
        items: set[tuple[object, object]] = {(task.get("id"), None) for task in tasks}
        items |= {(task.get("id"), sub.get("id")) for task in tasks for sub in _subs(task)}
        target: tuple[object, object] | None
        for task in tasks:
            parent = task.get("id")
            for dep in _deps(task):
                target = (dep, None) if type(dep) is int else _dotted(dep)
                if target is not None and target not in items:
                    found.add((tag, str(parent), str(dep)))
            for sub in _subs(task):
                for dep in _deps(sub):
                    target = (parent, dep) if type(dep) is int else _dotted(dep)
                    if target is not None and target not in items:
                        found.add((tag, f"{parent}.{sub.get('id')}", str(dep)))
    return found


def _subs(task: dict[str, Any]) -> list[dict[str, Any]]:
    return [sub for sub in _subtasks_of(task) if isinstance(sub, dict)]


def _deps(item: dict[str, Any]) -> list[Any]:
    deps = item.get("dependencies")
    return deps if isinstance(deps, list) else []


def _dotted(dep: Any) -> tuple[int, int] | None:
    match = _DOTTED.fullmatch(dep) if isinstance(dep, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _document(value: Side, side: str, *, allow_empty: bool = False) -> Document:
    if value is None or (isinstance(value, bytes | str) and not value.strip()):
        if allow_empty:
            return Document({}, flat=False)
        value = b""  # from_json names the side and says the file is empty
    if isinstance(value, Document):
        return Document(copy.deepcopy(value.data), flat=value.flat)
    if isinstance(value, bytes | str):
        raw = value.encode() if isinstance(value, str) else value
        return Document.from_json(raw, side)
    # Parsing normalises in place (string ids become integers): work on a copy.
    return Document.from_data(copy.deepcopy(dict(value)), side)


def _tags_view(doc: Document) -> dict[str, Any]:
    """The document as `{tag: value, other keys}`; a flat file is its `master` tag."""
    return {DEFAULT_TAG: doc.data} if doc.flat else doc.data


# the merge ----------------------------------------------------------------------------------------


BOTH_CHANGED: Any = object()
"""What `one_sided` answers when each side changed the value its own way."""


def one_sided(b: Any, o: Any, t: Any) -> Any:
    """The three-way rule where it decides alone: both sides agree, or only one side changed
    the base; otherwise BOTH_CHANGED, for the caller to merge inside or call a conflict."""
    if same(o, t):
        return o
    if same(b, o):
        return t
    if same(b, t):
        return o
    return BOTH_CHANGED


def same(a: Any, b: Any) -> bool:
    """JSON equality: `1`, `1.0` and `true` differ (Python's `==` says they are equal), key
    order does not matter."""
    if a is b:
        return True
    if type(a) is not type(b) or a != b:
        return False  # `!=` runs in C: most unequal tasks are told apart here
    if isinstance(a, dict | list):
        # Equal for Python; the same JSON only if no 1 stands where the other has true or
        # 1.0. Serialising both (in C, keys sorted) tells; the walk is for what orjson refuses.
        try:
            return bool(orjson.dumps(a, option=_SORTED) == orjson.dumps(b, option=_SORTED))
        except orjson.JSONEncodeError:
            return _same_walk(a, b)
    return True


_SORTED = orjson.OPT_SORT_KEYS


def _same_walk(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(key in b and _same_walk(v, b[key]) for key, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_walk(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@dataclass(frozen=True, slots=True)
class _Where:
    tag: str | None
    item: str | None = None
    path: tuple[str, ...] = ()

    def child(self, key: str) -> _Where:
        return _Where(self.tag, self.item, (*self.path, key))

    def field(self, key: str | None = None) -> str:
        return ".".join(self.path if key is None else (*self.path, key))


Special = Mapping[str, Callable[[Any, Any, Any, "_Where"], Any]]


class _Merger:
    def __init__(self) -> None:
        self.conflicts: list[Conflict] = []
        self.renumbered: list[Renumbered] = []

    def conflict(self, at: _Where, key: str | None, base: Any, ours: Any, theirs: Any) -> Any:
        self.conflicts.append(Conflict(at.tag, at.item, at.field(key), base, ours, theirs))
        return ours

    # levels ---------------------------------------------------------------------------------

    def document(self, base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> Any:
        out: dict[str, Any] = {}
        for key in _keys(ours, theirs):
            b, o, t = base.get(key, MISSING), ours.get(key, MISSING), theirs.get(key, MISSING)
            if is_tag(o) or is_tag(t) or is_tag(b):
                value = self.entry(b, o, t, _Where(key), self.tag)
            else:
                value = self.value(key, b, o, t, _Where(None))
            if value is not MISSING:
                out[key] = value
        return out

    def entry(
        self, b: Any, o: Any, t: Any, at: _Where, merge_both: Callable[[Any, Any, Any, _Where], Any]
    ) -> Any:
        """A whole tag, task or subtask: kept, added, removed, or merged inside."""
        settled = one_sided(b, o, t)
        if settled is not BOTH_CHANGED:
            return settled
        if o is MISSING or t is MISSING:
            return self.conflict(at, None, b, o, t)  # removed on one side, changed on the other
        return merge_both(b, o, t, at)

    def tag(self, b: Any, o: Any, t: Any, at: _Where) -> Any:
        if not (is_tag(o) and is_tag(t)):
            return self.conflict(at, None, b, o, t)  # a tag on one side, another value on the other
        b = b if is_tag(b) else {"tasks": []}
        theirs_tasks = self.renumber(b["tasks"], o["tasks"], t["tasks"], at)
        t = {**t, "tasks": theirs_tasks}
        return self.object(b, o, t, at, {"tasks": self.tasks})

    def tasks(self, b: Any, o: Any, t: Any, at: _Where) -> Any:
        if not all(isinstance(side, list) for side in (b, o, t) if side is not MISSING):
            return self.conflict(at, "tasks", b, o, t)
        return self.items(b if isinstance(b, list) else [], o, t, at, parent=None)

    def items(
        self, b: list[Any], o: list[Any], t: list[Any], at: _Where, *, parent: int | None
    ) -> list[Any]:
        """Tasks (or the subtasks of task `parent`), matched by id, in ours' order."""
        what = f"tag '{at.tag}'" if parent is None else f"task {parent} of tag '{at.tag}'"
        bmap, omap, tmap = (_index(side, what) for side in (b, o, t))
        merge_both = self.task if parent is None else self.subtask
        out = []
        for item_id in _order(bmap, list(omap), list(tmap)):
            label = str(item_id) if parent is None else f"{parent}.{item_id}"
            where = _Where(at.tag, label)
            bi, oi, ti = (m.get(item_id, MISSING) for m in (bmap, omap, tmap))
            value = self.entry(bi, oi, ti, where, merge_both)
            if value is not MISSING:
                out.append(value)
        return out

    def task(self, b: Any, o: Any, t: Any, at: _Where) -> Any:
        return self.object(
            b, o, t, at, {"subtasks": self.subtasks, "dependencies": self.dependencies}
        )

    def subtask(self, b: Any, o: Any, t: Any, at: _Where) -> Any:
        return self.object(b, o, t, at, {"dependencies": self.dependencies})

    def subtasks(self, b: Any, o: Any, t: Any, at: _Where) -> Any:
        if not all(isinstance(side, list) for side in (b, o, t) if side is not MISSING):
            return self.conflict(at, "subtasks", b, o, t)
        assert at.item is not None
        return self.items(
            b if isinstance(b, list) else [], o, t, _Where(at.tag), parent=int(at.item)
        )

    def dependencies(self, b: Any, o: Any, t: Any, at: _Where) -> Any:
        """Each side's additions and removals applied, in ours' order, theirs' additions last."""
        sides = [side for side in (b, o, t) if side is not MISSING]
        if not all(isinstance(side, list) for side in sides) or not all(
            isinstance(dep, int | str) for side in sides for dep in side
        ):
            return self.conflict(at, "dependencies", b, o, t)
        base_keys = {_dep_key(dep) for dep in (b if isinstance(b, list) else [])}
        ours_keys = {_dep_key(dep) for dep in o}
        theirs_keys = {_dep_key(dep) for dep in t}
        removed = base_keys - theirs_keys
        added = [dep for dep in t if _dep_key(dep) not in base_keys | ours_keys]
        kept = [dep for dep in o if _dep_key(dep) not in removed]
        return list({_dep_key(dep): dep for dep in kept + added}.values())

    def object(self, b: Any, o: Any, t: Any, at: _Where, special: Special) -> dict[str, Any]:
        """Two changed objects merged key by key (keys in ours' order, theirs' new ones last)."""
        base = b if isinstance(b, dict) else {}
        out: dict[str, Any] = {}
        for key in _keys(o, t):
            bv, ov, tv = base.get(key, MISSING), o.get(key, MISSING), t.get(key, MISSING)
            if key in special and ov is not MISSING and tv is not MISSING:
                if same(ov, tv):
                    value = ov
                elif same(bv, ov):
                    value = tv
                elif same(bv, tv):
                    value = ov
                else:
                    value = special[key](bv, ov, tv, at)
            else:
                value = self.value(key, bv, ov, tv, at)
            if value is not MISSING:
                out[key] = value
        return out

    def value(self, key: str, b: Any, o: Any, t: Any, at: _Where) -> Any:
        """One field: the three-way rule, timestamps by time, objects key by key."""
        settled = one_sided(b, o, t)
        if settled is not BOTH_CHANGED:
            return settled
        if isinstance(o, str) and isinstance(t, str):
            # Both sides touching a tag or a task move its `updated` by design: the later
            # time is the truth after the merge, and a conflict here would make every
            # concurrent edit of a tag a conflict. Likewise the earlier `created` (a tag
            # both sides created): it existed from then on.
            if key in LATER_WINS:
                return max(o, t, key=_instant)
            if key in EARLIER_WINS:
                return min(o, t, key=_instant)
        if isinstance(o, dict) and isinstance(t, dict) and (b is MISSING or isinstance(b, dict)):
            return self.object(b, o, t, at.child(key), {})
        return self.conflict(at, key, b, o, t)

    # renumbering ------------------------------------------------------------------------------

    def renumber(self, b: list[Any], o: list[Any], t: list[Any], at: _Where) -> list[Any]:
        """Theirs' task list with its new tasks and subtasks that clash with ours' renumbered,
        and the references to them in theirs' new and changed tasks rewritten."""
        tag = at.tag or DEFAULT_TAG
        bmap = _index(b, f"tag '{tag}'")
        omap = _index(o, f"tag '{tag}'")
        tmap = _index(t, f"tag '{tag}'")
        clashing = [i for i in tmap if i not in bmap and i in omap and not same(omap[i], tmap[i])]
        tasks: dict[int, int] = {}
        if clashing:
            start = _next_id([*bmap, *omap, *tmap])
            tasks = {old: start + n for n, old in enumerate(clashing)}
        subs: dict[tuple[int, int], int] = {}
        for parent_id, theirs_task in tmap.items():
            if parent_id in tasks or parent_id not in omap:
                continue
            what = f"task {parent_id} of tag '{tag}'"
            bsubs = _index(_subtasks_of(bmap.get(parent_id)), what)
            osubs = _index(_subtasks_of(omap[parent_id]), what)
            tsubs = _index(_subtasks_of(theirs_task), what)
            clash = [
                i for i in tsubs if i not in bsubs and i in osubs and not same(osubs[i], tsubs[i])
            ]
            if clash:
                start = _next_id([*bsubs, *osubs, *tsubs])
                subs.update({(parent_id, old): start + n for n, old in enumerate(clash)})
        if not tasks and not subs:
            return t
        self.renumbered += [Renumbered(tag, str(old), str(new)) for old, new in tasks.items()]
        self.renumbered += [
            Renumbered(tag, f"{parent}.{old}", f"{parent}.{new}")
            for (parent, old), new in subs.items()
        ]
        # Only theirs' new and changed tasks can refer to what only theirs added; a task
        # unchanged since the base is left exactly as it is.
        return [
            task
            if task["id"] in bmap and same(bmap[task["id"]], task)
            else _rewrite(task, tasks, subs)
            for task in t
        ]


def _keys(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    return [*ours, *(key for key in theirs if key not in ours)]


def _instant(value: str) -> tuple[int, Any]:
    """A timestamp to compare by: its instant in UTC when it parses (one without a zone is
    read as UTC), else its text, after every parseable one: the choice is deterministic
    whatever the values are."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return (1, value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (0, moment)


def _dep_key(dep: int | str) -> tuple[bool, int | str]:
    return (isinstance(dep, int), dep)


def _index(items: Iterable[Any], what: str) -> dict[int, dict[str, Any]]:
    index: dict[int, dict[str, Any]] = {}
    for item in items:
        item_id = item.get("id") if isinstance(item, dict) else None
        if type(item_id) is not int:
            raise MergeError(f"an item of {what} has no integer id: cannot merge by id")
        if item_id in index:
            raise MergeError(
                f"{what} holds two items with id {item_id} on one side: cannot merge by id "
                "(`tm validate-dependencies` and `tm fix-dependencies` help untangle it)"
            )
        index[item_id] = item
    return index


def _subtasks_of(task: Any) -> list[Any]:
    subtasks = task.get("subtasks") if isinstance(task, dict) else None
    return subtasks if isinstance(subtasks, list) else []


def _next_id(ids: Iterable[int]) -> int:
    """After every id the base or either side holds, not only the merged ones: an id a
    side still uses (a task the merge drops) given to another task would collide in that
    side's list, and an id of a removed task is not handed out again."""
    return max((i for i in ids if i > 0), default=0) + 1


def _order(b: Mapping[int, Any], ours: list[int], theirs: list[int]) -> list[int]:
    """Ours' order; each id only theirs added goes after the nearest earlier id of theirs
    that ours has too, past ours' ids theirs does not have (ours' additions there, what
    theirs removed), so both sides' additions at the end stay in id order."""
    order = list(ours)
    present = set(order)
    theirs_set = set(theirs)
    previous: int | None = None
    gone = []
    for item_id in theirs:
        if item_id in b and item_id not in present:
            # Ours removed it: never in the result, but looked at (theirs may have changed
            # it, a conflict), and never a place to insert after.
            gone.append(item_id)
            continue
        if item_id not in present:
            position = order.index(previous) + 1 if previous is not None else 0
            while position < len(order) and order[position] not in theirs_set:
                position += 1
            order.insert(position, item_id)
            present.add(item_id)
        previous = item_id
    return order + gone


def _rewrite(
    task: dict[str, Any], tasks: Mapping[int, int], subs: Mapping[tuple[int, int], int]
) -> Any:
    """A copy of theirs' `task` under its new ids, its references following."""
    old = task["id"]
    new = tasks.get(old, old)
    out = dict(task)
    out["id"] = new
    if isinstance(task.get("dependencies"), list):
        out["dependencies"] = [_task_ref(dep, tasks, subs) for dep in task["dependencies"]]
    if isinstance(task.get("subtasks"), list):
        out["subtasks"] = [_rewrite_subtask(sub, old, new, tasks, subs) for sub in task["subtasks"]]
    return out


def _rewrite_subtask(
    sub: Any, old: int, new: int, tasks: Mapping[int, int], subs: Mapping[tuple[int, int], int]
) -> Any:
    if not isinstance(sub, dict):
        return sub
    out = dict(sub)
    out["id"] = subs.get((old, sub["id"]), sub["id"])
    if new != old:
        for key in ("parentTaskId", "parentId"):
            link = sub.get(key)
            if type(link) is int and link == old:
                out[key] = new
            elif isinstance(link, str) and link.strip() == str(old):
                out[key] = str(new)
    if isinstance(sub.get("dependencies"), list):
        out["dependencies"] = [
            subs.get((old, dep), dep) if type(dep) is int else _task_ref(dep, tasks, subs)
            for dep in sub["dependencies"]
        ]
    return out


def _task_ref(dep: Any, tasks: Mapping[int, int], subs: Mapping[tuple[int, int], int]) -> Any:
    """A dependency after renumbering: a task id, or a dotted "task.subtask" reference."""
    if type(dep) is int:
        return tasks.get(dep, dep)
    match = _DOTTED.fullmatch(dep) if isinstance(dep, str) else None
    if match is None:
        return dep
    parent, sub = int(match.group(1)), int(match.group(2))
    if parent not in tasks and (parent, sub) not in subs:
        return dep
    return f"{tasks.get(parent, parent)}.{subs.get((parent, sub), sub)}"
