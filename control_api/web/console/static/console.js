// Crawlplane console: the pages are server-rendered shells; this script fills them from the
// API with the key typed on the login page (sessionStorage, sent as X-API-KEY).
"use strict";

const KEY = "crawlplane.key";
const $ = (sel, root) => (root || document).querySelector(sel);
const FORMATS = ["csv", "json", "jsonl", "xml", "xlsx"];

function key() { return sessionStorage.getItem(KEY); }

function toLogin() {
  const next = location.pathname + location.search;
  location.assign("/console/login?next=" + encodeURIComponent(next));
}

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(method, path, body, raw) {
  const headers = { "X-API-KEY": key() || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    toLogin();
    throw new ApiError(401, null);
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch (e) { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return /^application\/(problem\+)?json\b/.test(type) ? response.json() : response.text();
}

// -- small DOM helpers ---------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fill(target, rows, empty, colspan) {
  target.replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: colspan || 1, class: "muted", text: empty }))]));
}

function when(stamp) {
  if (!stamp) return "";
  const d = new Date(stamp);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function toast(text, bad) {
  const box = $("#toast");
  box.textContent = text;
  box.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = ""; }, 4000);
}

function relative(url) {  // the API's absolute links, as paths of this origin
  if (!url) return null;
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

function badge(status) { return el("span", { class: "badge " + status, text: status }); }

function progressOf(task) {
  const p = task.progress || { done: 0, queued: 0, failed: 0 };
  const total = p.done + p.queued;
  return { ...p, total, pct: total ? Math.round(100 * p.done / total) : (task.status === "completed" ? 100 : 0) };
}

// -- pages ---------------------------------------------------------------------------------

const pages = {};

pages.login = function () {
  const form = $("#login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = $("#api-key").value.trim();
    sessionStorage.setItem(KEY, value);
    const response = await fetch("/v1/tasks?take=1", { headers: { "X-API-KEY": value } });
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      $("#login-error").textContent = "That key was not accepted (401).";
      return;
    }
    const next = new URLSearchParams(location.search).get("next") || "/";
    location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/");
  });
};

pages.tasks = function () {
  const form = $("#filters");
  let current = null;  // the path of the page of tasks shown
  let links = {};
  const params = new URLSearchParams(location.search);
  for (const name of ["status", "tag", "name", "order"]) {
    if (params.get(name)) form.elements[name].value = params.get(name);
  }
  function query() {
    const q = new URLSearchParams({ take: "20" });
    for (const name of ["status", "tag", "name", "order"]) {
      const value = form.elements[name].value.trim();
      if (value) q.set(name, value);
    }
    return "/v1/tasks?" + q;
  }
  async function load(path) {
    current = path;
    const page = await api("GET", path);
    links = page.links;
    $("#prev").disabled = !links.previous;
    $("#next").disabled = !links.next;
    fill($("#task-rows"), page.data.map(taskRow), "No tasks yet: create one.", 8);
  }
  function taskRow(task) {
    const p = progressOf(task);
    const failed = Object.values(task.failures || {}).reduce((a, b) => a + b, 0);
    return el("tr", {},
      el("td", {}, el("a", { href: "/console/tasks/" + encodeURIComponent(task.id) },
        task.name || task.id)),
      el("td", {}, badge(task.status)),
      el("td", {}, el("span", { class: "mini" }, el("span", { class: "mini-fill", "data-pct": p.pct })),
        ` ${p.done}/${p.total}`),
      el("td", { text: task.items ?? "" }),
      el("td", { text: failed || "" }),
      el("td", { text: task.tag || "" }),
      el("td", { text: task.kind }),
      el("td", { text: when(task.created_at) }));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URL(query(), location.href).searchParams;
    q.delete("take");
    history.replaceState(null, "", "/?" + q);
    load(query()).then(sizeBars);
  });
  $("#prev").addEventListener("click", () => load(relative(links.previous)).then(sizeBars));
  $("#next").addEventListener("click", () => load(relative(links.next)).then(sizeBars));
  load(query()).then(sizeBars);
  setInterval(() => {
    if (form.elements.live.checked && !document.hidden && current) load(current).then(sizeBars);
  }, 2000);
};

function sizeBars() {  // widths set from script (the CSP allows no inline style attribute)
  for (const bar of document.querySelectorAll("[data-pct]")) bar.style.width = bar.dataset.pct + "%";
}

pages.task = function () {
  const id = document.body.dataset.taskId;
  const base = "/v1/tasks/" + encodeURIComponent(id);
  let task = null;
  let pagesPath = base + "/pages?take=20";
  let pagesLinks = {};

  function render(t) {
    task = t;
    document.title = (t.name || t.id) + " · Crawlplane";
    $("#task-title").textContent = t.name ? `${t.name} (${t.id})` : t.id;
    const status = $("#status");
    status.textContent = t.status;
    status.className = "badge " + t.status;
    const p = progressOf(t);
    $("#progress-bar").style.width = p.pct + "%";
    $(".progress").setAttribute("aria-valuenow", String(p.pct));
    $("#progress-text").textContent =
      `${p.done} done, ${p.queued} queued, ${p.failed} failed · ${t.items ?? 0} items`;
    const facts = [["Kind", t.kind], ["Run", t.run_id], ["Requests", t.requests],
      ["Pages", t.pages], ["Items", t.items], ["Elapsed", t.elapsed != null ? t.elapsed.toFixed(2) + " s" : ""],
      ["Created", when(t.created_at)], ["Started", when(t.started_at)], ["Ended", when(t.ended_at)],
      ["Tag", t.tag], ["Collected", t.collected ? "yes" : "no"]];
    $("#summary").replaceChildren(...facts.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v ?? "" }))));
    $("#task-error").textContent = t.error ? "Error: " + t.error : "";
    const failures = Object.entries(t.failures || {}).sort((a, b) => b[1] - a[1]);
    fill($("#failures"), failures.map(([k, n]) => el("tr", {}, el("th", { text: k }), el("td", { text: n }))),
      "No failed pages.", 2);
    const warnings = $("#warnings");
    warnings.replaceChildren(...(t.warnings || []).map((w) => el("li", { text: w })));
    if (!(t.warnings || []).length) warnings.append(el("li", { class: "muted", text: "None." }));
    const active = t.status === "queued" || t.status === "running";
    const button = (name) => $(`[data-action="${name}"]`);
    button("run").disabled = active || t.status === "paused";
    button("cancel").disabled = !active;
    button("pause").disabled = !active;
    button("resume").disabled = t.status !== "paused";
    button("resume").hidden = t.status !== "paused" && button("pause").hidden;
    const hasResults = (t.results || []).length > 0 || t.status === "completed";
    for (const b of document.querySelectorAll("[data-format]")) b.disabled = !hasResults;
  }

  async function refresh() {
    const t = await api("GET", base);
    const ended = task && (task.status === "running" || task.status === "queued") &&
      !(t.status === "running" || t.status === "queued");
    render(t);
    await loadPages(pagesPath);
    if (ended || !refresh.once) {
      refresh.once = true;
      loadDeliveries();
      loadOptional();
    }
    // Results exist once a run has ended (a paused or new task has none yet: /store is a 409).
    if (!itemsShown && ["completed", "cancelled", "error"].includes(t.status)) await loadItems();
    return t;
  }

  async function loadPages(path) {
    pagesPath = path;
    const page = await api("GET", path);
    pagesLinks = page.links;
    $("#pages-prev").disabled = !pagesLinks.previous;
    $("#pages-next").disabled = !pagesLinks.next;
    fill($("#pages"), page.data.map((p) => el("tr", {},
      el("td", { class: "url" }, el("span", { title: p.url, text: p.url })),
      el("td", { text: p.state }),
      el("td", { text: p.http_status ?? "" }),
      el("td", { text: p.depth }),
      el("td", { class: "error", text: p.error || "" }),
      el("td", {}, el("button", {
        type: "button", class: "small", "aria-label": "Timeline of " + p.url,
        onclick: () => showTimeline(p),
      }, "Timeline")))), "No pages yet.", 6);
  }

  async function showTimeline(p) {
    const info = await api("GET", "/api/v2/tasks/" + encodeURIComponent(p.id) + "/info");
    const attempts = [...(info.IntermedResults || []), ...(info.Result ? [info.Result] : [])];
    $("#timeline-panel").hidden = false;
    $("#timeline-title").textContent = `DownloadInfo timeline: ${p.url} (${info.TaskState})`;
    drawTimeline($("#timeline"), attempts, info.Error);
    $("#timeline-panel").scrollIntoView({ block: "nearest" });
  }

  let itemsShown = false;
  async function loadItems() {  // the first items of the latest results (rendered on demand)
    try {
      const text = await api("GET", base + "/store?format=jsonl");
      const items = String(text).split("\n").filter(Boolean).slice(0, 20).map((l) => JSON.parse(l));
      itemsTable($("#items-head"), $("#items"), items);
      itemsShown = true;
    } catch (e) {
      if (e.status !== 409) throw e;
      fill($("#items"), [], "No results yet.", 1);
    }
  }

  async function loadDeliveries() {
    const log = await api("GET", base + "/deliveries");
    fill($("#deliveries"), log.data.map((d) => el("tr", {},
      el("td", { text: d.kind }), el("td", { class: "url", text: d.url }),
      el("td", { text: d.attempt }), el("td", { text: d.status_code ?? "" }),
      el("td", { class: "error", text: d.error || "" }), el("td", { text: when(d.at) }))),
      "No webhook deliveries.", 6);
  }

  // The run's stats and log tail; a 404 (no run yet, or its log not written yet: a queued run)
  // hides the panel until a later refresh finds them.
  async function loadOptional() {
    for (const [name, path, show] of [
      ["stats", base + "/stats", (v) => { $("#stats").textContent = JSON.stringify(v, null, 2); }],
      ["log", base + "/log?tail=100", (v) => { $("#log").textContent = v; }],
    ]) {
      try {
        show(await api("GET", path));
        $(`#${name}-panel`).hidden = false;
      } catch (e) {
        if (e.status !== 404) throw e;
        $(`#${name}-panel`).hidden = true;
      }
    }
  }

  async function act(name) {
    const calls = {
      run: ["POST", base + "/run"], cancel: ["POST", base + "/cancel"],
      restart: ["PUT", base], pause: ["POST", base + "/pause"], resume: ["POST", base + "/resume"],
      delete: ["DELETE", base],
    };
    if (name === "delete" && !confirm(`Delete task ${task.name || id} and all its data?`)) return;
    if (name === "restart" && !confirm("Restart: cancel any run and clear its results?")) return;
    try {
      const answer = await api(...calls[name]);
      if (name === "delete") {
        location.assign("/?deleted=" + encodeURIComponent(id));
        return;
      }
      toast(`${name}: ${answer.status}`);
      render(answer);
      itemsShown = false;
      follow();
    } catch (e) {
      toast(`${name}: ${e.message}`, true);
    }
  }

  for (const b of document.querySelectorAll("[data-action]")) {
    b.addEventListener("click", () => act(b.dataset.action));
  }
  for (const b of document.querySelectorAll("[data-format]")) {
    b.addEventListener("click", () => download(base, id, b.dataset.format));
  }
  $("#pages-prev").addEventListener("click", () => loadPages(relative(pagesLinks.previous)));
  $("#pages-next").addEventListener("click", () => loadPages(relative(pagesLinks.next)));

  // Live: the SSE stream when the server has it, else polling GET /v1/tasks/{id}.
  let polling = null;
  let source = null;
  async function follow() {
    if (source || polling) return;
    if (await hasEvents(base)) {
      source = new EventSource(base + "/events?api_key=" + encodeURIComponent(key()));
      $("#live-mode").textContent = "live (events)";
      const update = () => refresh().catch(() => {});
      for (const kind of ["progress", "status", "page_failed"]) source.addEventListener(kind, update);
      source.addEventListener("end", () => {
        source.close();
        source = null;
        $("#live-mode").textContent = "";
        update();
      });
      return;
    }
    $("#live-mode").textContent = "live (polling)";
    polling = setInterval(async () => {
      const t = await refresh();
      if (!["queued", "running", "paused"].includes(t.status)) {
        clearInterval(polling);
        polling = null;
        $("#live-mode").textContent = "";
      }
    }, 1000);
  }
  // Pause and resume exist once the frontier branch has landed: an OPTIONS probe would
  // be a 405 either way, so ask the spec.
  api("GET", "/openapi.json").then((spec) => {
    const has = (p) => Object.prototype.hasOwnProperty.call(spec.paths || {}, p);
    if (has("/v1/tasks/{id}/pause")) $('[data-action="pause"]').hidden = false;
    if (has("/v1/tasks/{id}/resume")) $('[data-action="resume"]').hidden = false;
  }).catch(() => {});
  refresh().then((t) => { if (["queued", "running", "paused"].includes(t.status)) follow(); })
    .catch((e) => { if (e.status === 404) $("#task-error").textContent = "No such task."; });
};

async function hasEvents(base) {
  const ctl = new AbortController();
  try {
    const response = await fetch(base + "/events", { headers: { "X-API-KEY": key() }, signal: ctl.signal });
    ctl.abort();
    return response.ok && (response.headers.get("Content-Type") || "").startsWith("text/event-stream");
  } catch (e) { return false; }
}

async function download(base, id, format) {
  try {
    const response = await api("GET", `${base}/store?format=${format}`, undefined, true);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: `${id}.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) { toast(`download ${format}: ${e.message}`, true); }
}

function cell(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(cell).join("; ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function itemsTable(head, body, items) {
  const columns = [];
  for (const item of items) for (const k of Object.keys(item)) if (!columns.includes(k)) columns.push(k);
  head.replaceChildren(el("tr", {}, ...columns.map((c) => el("th", { text: c }))));
  fill(body, items.map((item) => el("tr", {}, ...columns.map((c) => el("td", { text: cell(item[c]) })))),
    "No items.", Math.max(columns.length, 1));
}

// One bar per attempt on a shared time axis: wait (scheduler, gate, crawl delay), then the
// download; redirect hops, retries and gates each get their own row.
function drawTimeline(box, attempts, error) {
  box.replaceChildren();
  if (!attempts.length) {
    box.append(el("p", { class: "muted", text: error ? "No request was sent: " + error : "No attempt recorded yet." }));
    return;
  }
  const spans = attempts.map((a) => {
    const start = Date.parse(a.RequestDateUtc) / 1000;
    const wait = a.WaitTimeSec || 0;
    return { a, from: start - wait, wait, start, end: start + (a.DownloadTimeSec || 0) };
  });
  const t0 = Math.min(...spans.map((s) => s.from));
  const total = Math.max(Math.max(...spans.map((s) => s.end)) - t0, 0.001);
  spans.forEach((s, i) => {
    const a = s.a;
    const previous = i > 0 ? attempts[i - 1] : null;
    const kind = i === 0 ? "request" : (previous && [301, 302, 303, 307, 308].includes(previous.HttpStatusCode)) ? "redirect" : "retry";
    const outcome = a.HttpStatusCode ? `${a.HttpStatusCode} ${a.ReasonPhrase || ""}` : (a.Error || "no answer");
    const waitBar = el("span", { class: "bar wait", title: `wait ${a.WaitTimeSec}s (crawl delay ${a.CrawlDelaySec || 0}s)` });
    const hop = a.HttpStatusCode >= 300 && a.HttpStatusCode < 400 && a.HttpStatusCode !== 304;
    const dlBar = el("span", { class: "bar " + (a.IsSuccess ? "ok" : hop ? "hop" : "bad"), title: `download ${a.DownloadTimeSec}s` });
    const track = el("span", { class: "track" }, waitBar, dlBar);
    waitBar.style.left = (100 * (s.from - t0) / total) + "%";
    waitBar.style.width = Math.max(100 * s.wait / total, 0) + "%";
    dlBar.style.left = (100 * (s.start - t0) / total) + "%";
    dlBar.style.width = Math.max(100 * (s.end - s.start) / total, 0.5) + "%";
    box.append(el("div", { class: "attempt", role: "listitem" },
      el("span", { class: "label" },
        el("strong", { text: `${i + 1}. ${kind}` }), " ",
        el("span", { class: "url", text: `${a.Method || "GET"} ${a.Url}` }), el("br"),
        el("span", { class: a.IsSuccess ? "ok-text" : hop ? "hop-text" : "error", text: outcome }),
        el("span", { class: "muted", text: ` · ${a.ViaProxy ? "via " + (a.Proxy || "proxy") : "direct"} · wait ${fmt(a.WaitTimeSec)} · download ${fmt(a.DownloadTimeSec)}` })),
      track));
  });
  box.append(el("p", { class: "muted axis", text: `0 s — ${fmt(total)}` }));
}

function fmt(seconds) { return seconds == null ? "?" : `${(+seconds).toFixed(3)} s`; }

pages.new = function () {
  const form = $("#new-task");
  const editor = $("#scheme");
  function parsed() {
    try { return JSON.parse(editor.value); } catch (e) {
      showErrors({ "$": ["not valid JSON: " + e.message] });
      return null;
    }
  }
  function offsetOf(path) {  // where a path's last key is in the editor's text, roughly
    const text = editor.value;
    let pos = 0;
    let found = -1;
    for (const part of path.match(/[^.[\]]+|\[\d+\]/g) || []) {
      if (part === "$" || (part === "scheme" && found < 0 && !text.includes('"scheme"'))) continue;
      if (part.startsWith("[")) {  // the n-th element: skip n objects' opening braces
        for (let n = +part.slice(1, -1); n >= 0 && pos >= 0; n--) pos = text.indexOf("{", pos + 1);
        if (pos < 0) return found;
        continue;
      }
      const at = text.indexOf(`"${part}"`, pos);
      if (at < 0) return found;
      found = pos = at;
    }
    return found;
  }
  function lineOf(path) {
    const at = offsetOf(path);
    return at < 0 ? null : editor.value.slice(0, at).split("\n").length;
  }
  function showErrors(errors) {
    const list = $("#scheme-errors");
    list.replaceChildren(...Object.entries(errors).map(([path, messages]) => {
      const line = lineOf(path);
      const go = () => {  // select the offending key in the editor
        const at = offsetOf(path);
        if (at < 0) return;
        editor.focus();
        editor.setSelectionRange(at, editor.value.indexOf("\n", at) >>> 0);
      };
      return el("li", { class: "error", "data-path": path },
        el("code", { text: path }),
        line ? el("button", { type: "button", class: "link-inline", onclick: go, text: `line ${line}` }) : null,
        ": " + messages.join("; "));
    }));
    editor.setAttribute("aria-invalid", Object.keys(errors).length ? "true" : "false");
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scheme = parsed();
    if (!scheme) return;
    const body = { scheme };
    if ($("#task-name").value.trim()) body.name = $("#task-name").value.trim();
    if ($("#task-tag").value.trim()) body.tag = $("#task-tag").value.trim();
    try {
      const task = await api("POST", "/v1/tasks", body);
      showErrors({});
      location.assign("/console/tasks/" + encodeURIComponent(task.id));
    } catch (e) {
      showErrors(e.problem.errors || { "$": [e.message] });
    }
  });
  $("#preview").addEventListener("click", async () => {
    const scheme = parsed();
    if (!scheme) return;
    const url = $("#preview-url").value.trim() || (scheme.start_urls || [])[0] || "";
    const button = $("#preview");
    button.disabled = true;
    $("#preview-summary").textContent = "Fetching " + url + " …";
    $("#preview-panel").hidden = false;
    try {
      const started = performance.now();
      const result = await api("POST", "/v1/preview", { scheme, url });
      showErrors({});
      const ms = Math.round(performance.now() - started);
      $("#preview-summary").textContent =
        `${result.items.length} items, ${result.links.paginate.length} pagination and ` +
        `${result.links.follow.length} follow links from ${url} (${ms} ms)` +
        (result.error ? ` · error: ${result.error}` : "");
      itemsTable($("#preview-head"), $("#preview-items"), result.items.slice(0, 50));
      const links = [...result.links.paginate.map((u) => ["paginate", u]), ...result.links.follow.map((u) => ["follow", u])];
      $("#preview-links").replaceChildren(...links.map(([k, u]) => el("li", {}, el("span", { class: "badge", text: k }), " ", u)));
      if (!links.length) $("#preview-links").append(el("li", { class: "muted", text: "None." }));
      drawTimeline($("#preview-timeline"), result.attempts || (result.download ? [result.download] : []), result.error);
    } catch (e) {
      $("#preview-summary").textContent = "Preview failed: " + e.message;
      if (e.problem.errors) showErrors(e.problem.errors);
    } finally {
      button.disabled = false;
    }
  });
};

pages.schedules = async function () {
  const page = await api("GET", "/v1/schedules?take=100");
  fill($("#schedule-rows"), page.data.map((s) => el("tr", {},
    el("td", { text: s.id }), el("td", { text: s.name || "" }), el("td", {}, el("code", { text: s.cron })),
    el("td", { text: s.timezone }),
    el("td", {}, s.task_id ? el("a", { href: "/console/tasks/" + encodeURIComponent(s.task_id), text: s.task_id }) : ""),
    el("td", { text: when(s.next_run_at) }), el("td", { text: s.last_run_id || "" }))), "No schedules.", 7);
};

pages.jobs = async function () {
  const jobs = [];
  let path = "/v1/tasks?take=100&order=desc";
  for (let i = 0; path && i < 10; i++) {  // at most 1,000 tasks looked at
    const page = await api("GET", path);
    jobs.push(...page.data.filter((t) => t.kind === "job"));
    path = relative(page.links.next);
  }
  fill($("#job-rows"), jobs.map((t) => el("tr", {},
    el("td", {}, el("a", { href: "/console/tasks/" + encodeURIComponent(t.id), text: t.name || t.id })),
    el("td", {}, badge(t.status)), el("td", { text: t.pages ?? "" }),
    el("td", { text: Object.values(t.failures || {}).reduce((a, b) => a + b, 0) || "" }),
    el("td", { text: when(t.created_at) }))), "No jobs.", 5);
};

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page !== "login" && !key()) { toLogin(); return; }
  const logout = $("#logout");
  if (key() && page !== "login") {
    logout.hidden = false;
    logout.addEventListener("click", () => { sessionStorage.removeItem(KEY); toLogin(); });
  }
  const deleted = new URLSearchParams(location.search).get("deleted");
  if (deleted) toast(`Task ${deleted} deleted.`);
  const run = pages[page];
  if (run) Promise.resolve(run()).catch((e) => toast(e.message, true));
});
