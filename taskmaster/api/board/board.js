// The board: the tasks of one tag in columns by status, kept live by the API's event stream.
//
// Task text comes from a shared file anyone may write, so it only ever reaches the page as
// textContent (never as markup). Every change is sent with If-Match = the revision the page
// last loaded: a change made meanwhile by anyone else is refused (412), never overwritten.

const STATUSES = ["pending", "in-progress", "review", "blocked", "deferred", "done", "cancelled"];
const PRIORITIES = ["critical", "high", "medium", "low"];
const DONE = new Set(["done", "completed"]);
const EVENT_KINDS = [
  "task.created", "task.updated", "task.deleted", "tag.changed", "file.changed",
  "claim.created", "claim.renewed", "claim.released", "claim.expired", "reset", "overflow",
];
const TOKEN_KEY = "tm-board-token"; // sessionStorage only: a token must not outlive the tab
const API = "api/v1";

const $ = (id) => document.getElementById(id);

const state = {
  tag: tagFromHash(), // null: follow the project's current tag
  shownTag: null,
  etag: null, // the revision the page shows, as the API's ETag: the If-Match of every write
  tasks: [],
  byId: new Map(),
  claims: new Map(), // task or subtask id (string) -> live claim
  next: null,
  tags: [],
  filter: "",
  collapsed: new Map(), // status -> the user's choice; empty columns start collapsed
  detailId: null,
  formDirty: false,
  dragging: false,
  renderPending: false,
  lastEventId: null,
  loadFailed: false,
};

// ---- helpers ---------------------------------------------------------------------------

function tagFromHash() {
  const match = /(?:^#|&)tag=([^&]*)/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function leaseLeft(expiresAt) {
  const ms = Date.parse(expiresAt) - Date.now();
  if (!(ms > 0)) return "lease ended";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s left`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m}m left` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")} left`;
}

function short(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "∅";
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

function showMessage(text) {
  $("message-text").textContent = text;
  $("message").hidden = false;
}

function hideMessage() {
  $("message").hidden = true;
}

// ---- loading ---------------------------------------------------------------------------

let loading = null;
let reloadAgain = false;

// Events come in bursts (one per changed item): one load at a time, and one more after it
// when anything arrived meanwhile, so the page never shows less than the latest event said.
function refresh() {
  if (loading) {
    reloadAgain = true;
    return loading;
  }
  loading = (async () => {
    try {
      do {
        reloadAgain = false;
        await load();
      } while (reloadAgain);
    } finally {
      loading = null;
    }
  })();
  return loading;
}

async function getJson(path) {
  // no-cache: the browser revalidates with the API's ETag (a 304 costs almost nothing).
  const response = await fetch(path, { cache: "no-cache", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return { body: await response.json(), etag: response.headers.get("ETag") };
}

async function load() {
  const tag = state.tag;
  try {
    const [tasks, claims, next, tags] = await Promise.all([
      getJson(`${API}/tasks${query({ tag })}`),
      getJson(`${API}/claims${query({ tag })}`),
      getJson(`${API}/next${query({ tag })}`),
      getJson(`${API}/tags`),
    ]);
    if (tag !== state.tag) {
      reloadAgain = true; // the user switched tags meanwhile
      return;
    }
    state.etag = tasks.etag;
    state.shownTag = tasks.body.tag;
    state.tasks = tasks.body.tasks;
    state.byId = new Map(state.tasks.map((task) => [String(task.id), task]));
    state.claims = new Map(
      claims.body.claims.filter((c) => c.state === "live").map((c) => [String(c.id), c]),
    );
    state.next = next.body;
    state.tags = tags.body.tags;
    renderTags();
    render();
    if (state.detailId !== null) renderDetail();
    if (state.loadFailed) hideMessage(); // the store is back: the failure no longer holds
    state.loadFailed = false;
  } catch (error) {
    state.loadFailed = true;
    showMessage(`Could not load the board: ${error.message}`);
  }
}

// ---- the board -------------------------------------------------------------------------

function blockers(task) {
  return (task.dependencies || []).filter((dep) => {
    const found = state.byId.get(String(dep));
    return !found || !DONE.has(found.status);
  });
}

function matches(task) {
  if (!state.filter) return true;
  const needle = state.filter.toLowerCase();
  return String(task.id) === needle.replace(/^#/, "") || task.title.toLowerCase().includes(needle);
}

function statusColumn(status) {
  return status === "completed" ? "done" : status;
}

function card(task, nextId) {
  const id = String(task.id);
  const node = el("article", "card");
  node.tabIndex = 0;
  node.draggable = true;
  node.dataset.id = id;
  const top = el("div", "top");
  top.append(el("span", "id", `#${id}`), el("span", `tag p-${task.priority}`, task.priority || "—"));
  if (nextId !== null && String(nextId).split(".")[0] === id) {
    const sub = String(nextId).includes(".") ? `next: ${nextId}` : "next";
    top.append(el("span", "tag badge-next", sub));
    node.classList.add("next");
  }
  node.append(top, el("div", "title", task.title));
  const meta = el("div", "meta");
  const subtasks = task.subtasks || [];
  if (subtasks.length) {
    const done = subtasks.filter((s) => DONE.has(s.status)).length;
    meta.append(el("span", "tag subtasks", `${done}/${subtasks.length} subtasks`));
  }
  const blocking = blockers(task);
  if (blocking.length) {
    node.classList.add("is-blocked");
    meta.append(el("span", "blocked-by", `blocked by ${blocking.map((d) => `#${d}`).join(", ")}`));
  } else if ((task.dependencies || []).length) {
    meta.append(el("span", "tag", `deps done: ${task.dependencies.map((d) => `#${d}`).join(", ")}`));
  }
  const claim = state.claims.get(id) || subtasks.map((s) => state.claims.get(`${id}.${s.id}`)).find(Boolean);
  if (claim) {
    meta.append(el("span", "tag claim", `${claim.agent} · ${leaseLeft(claim.expiresAt)}`));
  }
  if (meta.childElementCount) node.append(meta);
  return node;
}

function render() {
  if (state.dragging) {
    state.renderPending = true; // replacing the cards would cancel the drag under way
    return;
  }
  const board = $("board");
  const focused = document.activeElement;
  const focusKey = focused && focused.dataset ? (focused.dataset.id ? `card:${focused.dataset.id}` : focused.dataset.column ? `col:${focused.dataset.column}` : null) : null;

  const groups = new Map(STATUSES.map((s) => [s, []]));
  let shown = 0;
  for (const task of state.tasks) {
    if (!matches(task)) continue;
    const column = statusColumn(task.status);
    if (!groups.has(column)) groups.set(column, []); // a status this page does not know yet
    groups.get(column).push(task);
    shown += 1;
  }
  const nextId = state.next ? state.next.id : null;
  const fragment = document.createDocumentFragment();
  for (const [status, tasks] of groups) {
    const column = el("section", "column");
    column.dataset.status = status;
    const collapsed = state.collapsed.has(status) ? state.collapsed.get(status) : tasks.length === 0;
    if (collapsed) column.classList.add("collapsed");
    const head = el("button", "column-head");
    head.type = "button";
    head.dataset.column = status;
    head.setAttribute("aria-expanded", String(!collapsed));
    head.append(el("span", "name", status), el("span", "count", tasks.length));
    const list = el("div", "cards");
    for (const task of tasks) list.append(card(task, nextId));
    column.append(head, list);
    fragment.append(column);
  }
  board.replaceChildren(fragment);
  $("summary").textContent = `${state.shownTag ?? ""}: ${shown} of ${state.tasks.length} tasks`;
  if (focusKey) {
    const [kind, key] = focusKey.split(/:(.*)/);
    const target = board.querySelector(kind === "card" ? `[data-id="${CSS.escape(key)}"]` : `[data-column="${CSS.escape(key)}"]`);
    if (target) target.focus({ preventScroll: true });
  }
  performance.mark("tm-board-rendered");
}

function renderTags() {
  const select = $("tag");
  const names = state.tags.map((t) => t.name);
  const current = [...select.options].map((o) => o.value);
  if (names.join("\n") !== current.join("\n")) {
    select.replaceChildren(...names.map((name) => {
      const option = el("option", null, name);
      option.value = name;
      return option;
    }));
  }
  select.value = state.shownTag;
}

// ---- the detail panel ------------------------------------------------------------------

function fillSelect(select, values, current) {
  const all = values.includes(current) || !current ? values : [...values, current];
  select.replaceChildren(...all.map((v) => {
    const option = el("option", null, v);
    option.value = v;
    return option;
  }));
  select.value = current;
}

function openDetail(id) {
  state.detailId = String(id);
  state.formDirty = false;
  $("detail").hidden = false;
  renderDetail();
  $("detail-title").focus();
}

function closeDetail() {
  const id = state.detailId;
  state.detailId = null;
  $("detail").hidden = true;
  const back = id && $("board").querySelector(`[data-id="${CSS.escape(id)}"]`);
  if (back) back.focus();
}

function section(title, ...children) {
  const wrap = el("section");
  wrap.append(el("h3", null, title), ...children);
  return wrap;
}

function renderDetail() {
  const task = state.byId.get(state.detailId);
  const body = $("detail-body");
  if (!task) {
    $("detail-title").textContent = `Task ${state.detailId} is no longer in this tag`;
    $("edit").hidden = true;
    body.replaceChildren();
    return;
  }
  $("edit").hidden = false;
  $("detail-title").textContent = `#${task.id} ${task.title}`;
  if (!state.formDirty) {
    $("edit-title").value = task.title;
    fillSelect($("edit-priority"), PRIORITIES, task.priority);
    fillSelect($("edit-status"), STATUSES, task.status);
  }
  const parts = [];
  parts.push(section("Description", el("pre", null, task.description || "—")));
  if (task.details) parts.push(section("Details", el("pre", null, task.details)));
  if (task.testStrategy) parts.push(section("Test strategy", el("pre", null, task.testStrategy)));
  const deps = task.dependencies || [];
  if (deps.length) {
    const blocking = new Set(blockers(task).map(String));
    const list = el("ul");
    for (const dep of deps) {
      const other = state.byId.get(String(dep));
      const text = `#${dep} ${other ? other.title : "(missing)"} — ${other ? other.status : "?"}`;
      list.append(el("li", blocking.has(String(dep)) ? "blocked-by" : null, text));
    }
    parts.push(section("Depends on", list));
  }
  const subtasks = task.subtasks || [];
  if (subtasks.length) {
    const list = el("ul", "subtasks");
    for (const sub of subtasks) list.append(el("li", null, `${task.id}.${sub.id} [${sub.status}] ${sub.title}`));
    parts.push(section("Subtasks", list));
  }
  const claim = state.claims.get(String(task.id));
  if (claim) parts.push(section("Claim", el("p", null, `${claim.agent} (token ${claim.token}), ${leaseLeft(claim.expiresAt)}`)));
  const history = el("ul", "history");
  history.append(el("li", "muted", "loading…"));
  parts.push(section("History (newest first)", history));
  body.replaceChildren(...parts);
  loadHistory(task.id, history);
}

async function loadHistory(id, list) {
  try {
    const { body } = await getJson(`${API}/history${query({ id, tag: state.shownTag, limit: 1000 })}`);
    const entries = body.entries.slice(-30).reverse();
    const items = entries.map((entry) => {
      const item = el("li");
      item.append(el("div", null, `${entry.time} · ${entry.actor} (${entry.via}) · ${entry.command}`));
      const changes = (entry.changes || []).filter((c) => c.id !== null);
      for (const change of changes.slice(0, 8)) {
        let text;
        if (change.field === null) text = "after" in change ? `${change.id} created` : `${change.id} removed`;
        else text = `${change.id} ${change.field}: ${short(change.before)} → ${short(change.after)}`;
        item.append(el("div", "muted", text));
      }
      return item;
    });
    if (!items.length) items.push(el("li", "muted", "no recorded changes"));
    list.replaceChildren(...items);
  } catch (error) {
    list.replaceChildren(el("li", "muted", `history unavailable: ${error.message}`));
  }
}

// ---- writes ----------------------------------------------------------------------------

let tokenWaiter = null;

function askToken(again) {
  const dialog = $("token-dialog");
  $("token-input").value = "";
  dialog.querySelector("p").textContent = again
    ? "That token was refused. Enter a valid token (kept in this tab only)."
    : "This server needs a token for changes. It is kept in this tab only.";
  dialog.showModal();
  return new Promise((resolve) => { tokenWaiter = resolve; });
}

function tokenAnswered(value) {
  $("token-dialog").close();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  if (tokenWaiter) tokenWaiter(value);
  tokenWaiter = null;
}

async function write(method, path, body, id) {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const headers = { "Content-Type": "application/json", "Tm-Actor": "board" };
    if (state.etag) headers["If-Match"] = state.etag;
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const url = `${API}/${path}${query({ tag: state.shownTag })}`;
    const response = await fetch(url, { method, headers, body: JSON.stringify(body) });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      if (!(await askToken(Boolean(token)))) {
        showMessage("Not changed: this server needs a token for changes.");
        return false;
      }
      continue;
    }
    if (response.status === 412) {
      showMessage(`Task ${id} changed meanwhile: the board now shows the latest state. Check it and try again.`);
      state.formDirty = false;
      await refresh();
      return false;
    }
    if (!response.ok) {
      let detail = `${response.status}`;
      try { detail = (await response.json()).detail || detail; } catch { /* not a problem document */ }
      showMessage(`Task ${id} was not changed: ${detail}`);
      await refresh();
      return false;
    }
    hideMessage();
    state.formDirty = false;
    await refresh(); // the page's own change, at once, without waiting for its event
    return true;
  }
  return false;
}

function setStatus(id, status) {
  const task = state.byId.get(String(id));
  if (!task || task.status === status) return Promise.resolve(false);
  return write("PUT", `tasks/${encodeURIComponent(id)}/status`, { status }, id);
}

// ---- live updates ----------------------------------------------------------------------

let source = null;

function connect() {
  const url = `${API}/events${query({ lastEventId: state.lastEventId })}`;
  source = new EventSource(url);
  source.onopen = () => {
    $("stream-down").hidden = true;
    refresh(); // whatever happened while the stream was down
  };
  source.onerror = () => {
    $("stream-down").hidden = false;
    if (source.readyState === EventSource.CLOSED) {
      // Refused outright (e.g. too many streams): the browser will not retry by itself.
      setTimeout(connect, 3000);
    }
  };
  const onEvent = (event) => {
    if (event.lastEventId) state.lastEventId = event.lastEventId;
    refresh();
  };
  for (const kind of EVENT_KINDS) source.addEventListener(kind, onEvent);
}

// ---- wiring ----------------------------------------------------------------------------

function cardOf(target) {
  return target instanceof Element ? target.closest(".card") : null;
}

function wire() {
  const board = $("board");
  board.addEventListener("click", (event) => {
    const head = event.target instanceof Element && event.target.closest(".column-head");
    if (head) {
      const status = head.dataset.column;
      const column = head.parentElement;
      state.collapsed.set(status, !column.classList.contains("collapsed"));
      render();
      return;
    }
    const found = cardOf(event.target);
    if (found) openDetail(found.dataset.id);
  });
  board.addEventListener("keydown", (event) => {
    const found = cardOf(event.target);
    if (found && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      openDetail(found.dataset.id);
    }
  });
  board.addEventListener("dragstart", (event) => {
    const found = cardOf(event.target);
    if (!found) return;
    state.dragging = true;
    event.dataTransfer.setData("text/plain", found.dataset.id);
    event.dataTransfer.effectAllowed = "move";
  });
  const endDrag = () => {
    state.dragging = false;
    for (const c of board.querySelectorAll(".drop-target")) c.classList.remove("drop-target");
    if (state.renderPending) {
      state.renderPending = false;
      render();
    }
  };
  board.addEventListener("dragend", endDrag);
  board.addEventListener("dragover", (event) => {
    const column = event.target instanceof Element && event.target.closest(".column");
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    for (const c of board.querySelectorAll(".drop-target")) if (c !== column) c.classList.remove("drop-target");
    column.classList.add("drop-target");
  });
  board.addEventListener("drop", (event) => {
    const column = event.target instanceof Element && event.target.closest(".column");
    if (!column) return;
    event.preventDefault();
    const id = event.dataTransfer.getData("text/plain");
    endDrag();
    if (id) setStatus(id, column.dataset.status);
  });

  $("filter").addEventListener("input", (event) => {
    state.filter = event.target.value.trim();
    render();
  });
  $("tag").addEventListener("change", (event) => {
    state.tag = event.target.value;
    state.etag = null;
    history.replaceState(null, "", `#tag=${encodeURIComponent(state.tag)}`);
    closeDetail();
    refresh();
  });
  $("reload").addEventListener("click", () => refresh());
  $("message-close").addEventListener("click", hideMessage);
  $("detail-close").addEventListener("click", closeDetail);
  $("detail").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDetail();
  });
  $("edit").addEventListener("input", () => { state.formDirty = true; });
  $("edit").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = state.detailId;
    const task = state.byId.get(id);
    if (!task) return;
    const fields = {};
    const title = $("edit-title").value.trim();
    if (title && title !== task.title) fields.title = title;
    if ($("edit-priority").value !== task.priority) fields.priority = $("edit-priority").value;
    const status = $("edit-status").value;
    // One write per route: a 412 on the first leaves the second unsent.
    if (Object.keys(fields).length && !(await write("PATCH", `tasks/${encodeURIComponent(id)}`, fields, id))) return;
    if (status !== task.status) await setStatus(id, status);
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    tokenAnswered($("token-input").value.trim() || null);
  });
  $("token-cancel").addEventListener("click", () => tokenAnswered(null));
  $("token-dialog").addEventListener("cancel", () => tokenAnswered(null));
  // Lease times count down without any event.
  setInterval(() => { if (state.claims.size) render(); }, 15000);
}

wire();
refresh();
connect();
