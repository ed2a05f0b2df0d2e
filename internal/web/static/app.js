// Ophicleide's web page: models (train, watch, export, delete), queries
// (nearest words with a PCA plot, analogies) and the query history. It
// only calls the REST API under /api/, so it works the same whether
// `ophicleide serve` or the `web` role (a proxy) serves it.
"use strict";

const API = "/api";
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
};

// ApiError carries the API's {"errors": [{status, title, details, field}]}.
class ApiError extends Error {
  constructor(status, title, details, field) {
    super(details || title);
    this.status = status; this.title = title; this.field = field || "";
  }
}

let unavailable = false;
function setUnavailable(on) {
  unavailable = on;
  $("#unavailable").hidden = !on;
}

// ---- API keys ----
// A server with keys answers 401 without one: the page asks for a key,
// keeps it in sessionStorage (this tab only, gone when it closes) and
// sends it as "Authorization: Bearer KEY" on every /api call. The key is
// never put in a URL, a log or the page.
const KEY_STORE = "ophicleide.apiKey";
const storedKey = () => { try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; } };
function keepKey(k) {
  try { if (k) sessionStorage.setItem(KEY_STORE, k); else sessionStorage.removeItem(KEY_STORE); } catch (e) { /* storage off */ }
  showKeyButtons();
}
let keyWanted = false;   // the server has answered 401 at least once
let keyDeclined = false; // the user cancelled the dialog: do not ask again on every poll
function showKeyButtons() {
  const k = storedKey();
  $("#sign-out").hidden = !k;
  $("#sign-in").hidden = !!k || !keyWanted;
  $("#need-key").hidden = !!k || !keyWanted || !keyDeclined;
}

// askKey opens the dialog (once, however many calls wait on it) and
// resolves with the key typed, or "" when the user cancels.
let keyPrompt = null;
function askKey(reason) {
  if (keyPrompt) return keyPrompt;
  const dialog = $("#key-dialog");
  $("#key-reason").textContent = reason;
  $("#key-error").textContent = "";
  $("#key-input").value = "";
  keyPrompt = new Promise(resolve => {
    const done = key => {
      $("#key-form").removeEventListener("submit", submit);
      $("#key-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      keyPrompt = null;
      resolve(key);
    };
    const submit = ev => {
      ev.preventDefault();
      const key = $("#key-input").value.trim();
      if (!key) { $("#key-error").textContent = "Type or paste your API key."; return; }
      done(key);
    };
    const cancel = ev => { ev.preventDefault(); done(""); };
    $("#key-form").addEventListener("submit", submit);
    $("#key-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel); // Escape
    if (!dialog.open) dialog.showModal();
    $("#key-input").focus();
  });
  return keyPrompt;
}

async function signIn() {
  keyDeclined = false;
  const key = await askKey("Sign in with your API key.");
  if (!key) { keyDeclined = true; showKeyButtons(); return; }
  keepKey(key);
  loadModels();
  loadEngines();
  if (!$("#history").hidden) loadHistory();
}
function signOut() {
  keepKey("");
  keyDeclined = true; // do not pop the dialog up at once; the banner offers it
  models = [];
  renderModels();
  $("#history-list").replaceChildren();
  $("#results").hidden = true;
  $("#plot-card").hidden = true;
  loadModels();
}
$("#sign-in").addEventListener("click", signIn);
$("#need-key-sign-in").addEventListener("click", signIn);
$("#sign-out").addEventListener("click", signOut);

// retryAfterWords turns a Retry-After header (seconds or a date) into
// "in 12 seconds", "" when absent.
function retryAfterWords(h) {
  if (!h) return "";
  const s = /^\d+$/.test(h.trim()) ? parseInt(h, 10) : Math.round((Date.parse(h) - Date.now()) / 1000);
  if (!(s >= 0)) return "";
  if (s <= 1) return "in a second";
  return s < 60 ? "in " + s + " seconds" : "in " + fmtDuration(s);
}

// explain words a refusal for people: what the API said, and why or what
// to do for 403 (the key's role) and 429 (when to retry).
function explain(status, details, headers) {
  if (status === 403) {
    return "Not allowed: " + (details || "this key may not do that") +
      ". Your key's role does not allow it (read keys list and query; write keys also train, and delete or export their own models; admin keys do anything).";
  }
  if (status === 429) {
    const when = retryAfterWords(headers.get("Retry-After"));
    return "Too many requests: " + (details || "over this key's limit") + ". " + (when ? "Try again " + when + "." : "Try again later.");
  }
  return details;
}

async function api(method, path, body, raw) {
  const opts = { method, headers: { Accept: "application/json" } };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  let resp;
  for (;;) {
    const key = storedKey();
    if (key) opts.headers.Authorization = "Bearer " + key; else delete opts.headers.Authorization;
    try {
      resp = await fetch(API + path, opts);
    } catch (e) {
      setUnavailable(true);
      throw new ApiError(0, "Training service unavailable", "The server cannot be reached.");
    }
    if (resp.status !== 401) break;
    keyWanted = true;
    let reason = "This server needs an API key.";
    if (key) { keepKey(""); reason = "The server does not know that key (mistyped, revoked or replaced?). Try another."; }
    let details = "";
    try { const d = await resp.json(); details = d.errors[0].details || ""; } catch (e) { /* not JSON */ }
    // Polls do not pop the dialog up again after a cancel; a click does.
    const next = keyDeclined && method === "GET" ? "" : await askKey(reason);
    if (!next) {
      keyDeclined = true;
      showKeyButtons();
      throw new ApiError(401, "Unauthorized", "This needs an API key" + (details ? " (" + details + ")" : "") + ": sign in with your key.");
    }
    keyDeclined = false;
    keepKey(next);
  }
  showKeyButtons();
  if (resp.status === 502 || (resp.status === 503 && resp.headers.get("X-Ophicleide-Proxy"))) {
    setUnavailable(true);
  } else {
    setUnavailable(false);
  }
  if (raw && resp.ok) return resp;
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    const err = data && data.errors && data.errors[0];
    throw new ApiError(resp.status, err ? err.title : resp.statusText, explain(resp.status, err ? err.details : "", resp.headers), err && err.field);
  }
  return data;
}

// download saves a GET of the API as a file: through fetch, so that the
// key goes in the header, not in the URL.
async function download(path, filename) {
  try {
    const resp = await api("GET", path, undefined, true);
    const url = URL.createObjectURL(await resp.blob());
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (e) {
    alert("The export failed: " + e.message);
  }
}

// ---- formatting ----
const fmtInt = n => Number(n).toLocaleString("en");
function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}
const fmtTime = t => t ? new Date(t).toLocaleString() : "";

// ---- navigation ----
const sections = ["models", "query", "history"];
function show() {
  const name = sections.includes(location.hash.slice(1)) ? location.hash.slice(1) : "models";
  for (const s of sections) {
    $("#" + s).hidden = s !== name;
    const a = $("#nav-" + s);
    if (s === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (name === "history") loadHistory();
  if (name === "query") fillModelSelect();
}
window.addEventListener("hashchange", show);

// ---- models ----
let models = [];
let pollTimer = null;
let listRefused = false; // the server wants a key to list models

async function loadModels() {
  clearTimeout(pollTimer);
  try {
    const data = await api("GET", "/models");
    models = data.models || [];
    listRefused = false;
    renderModels();
  } catch (e) {
    if (e.status === 401) { listRefused = true; models = []; renderModels(); }
    else if (!unavailable) console.error(e);
  }
  const busy = models.some(m => m.status === "queued" || m.status === "training");
  pollTimer = setTimeout(loadModels, busy || unavailable ? 1000 : 5000);
}

function renderModels() {
  const list = $("#model-list");
  $("#models-empty").hidden = models.length > 0 || unavailable || listRefused;
  list.replaceChildren(...models.map(modelItem));
  if (!$("#query").hidden) fillModelSelect();
}

function modelItem(m) {
  const li = el("li", { class: "model", "data-id": m.id, "data-status": m.status },
    el("h3", {}, m.name, el("span", { class: "status " + m.status }, m.status)));
  if (m.urls && m.urls.length) {
    li.append(el("p", { class: "meta" }, "From ", m.urls.flatMap((u, i) => [i ? ", " : "", el("a", { href: u, rel: "noopener noreferrer" }, u)])));
  }
  if (m.uploads && m.uploads.length) li.append(el("p", { class: "meta" }, "Uploaded: " + m.uploads.join(", ")));
  const facts = ["created " + fmtTime(m.created)];
  if (m.params && m.params.engine === "spark") facts.push("trained on Spark");
  if (m.status === "ready" && m.stats) {
    facts.push(fmtInt(m.stats.vocabSize) + " words in the vocabulary");
    facts.push(fmtInt(m.stats.corpusWords) + " words of text");
    if (m.stats.trainingSeconds) facts.push("trained in " + fmtDuration(m.stats.trainingSeconds));
  }
  li.append(el("p", { class: "meta" }, facts.join(" · ")));
  if (m.status === "queued" || m.status === "training") {
    const p = m.progress || {};
    const frac = Math.max(0, Math.min(1, p.fraction || 0));
    const parts = [p.phase || m.status];
    if (p.phase === "training" || frac > 0) parts.push(Math.round(frac * 100) + "%");
    if (p.wordsPerSecond) parts.push(fmtInt(Math.round(p.wordsPerSecond)) + " words/s");
    if (p.etaSeconds) parts.push(fmtDuration(p.etaSeconds) + " left");
    li.append(el("div", { class: "progress" },
      el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(frac * 100)), "aria-label": "Training progress" },
        el("span", { style: "width:" + (frac * 100).toFixed(1) + "%" })),
      el("p", { class: "meta progress-text" }, parts.join(" · "))));
  }
  if (m.status === "failed") li.append(el("p", { class: "error" }, "Failed: " + (m.error || "no reason given")));
  const actions = el("div", { class: "actions" });
  if (m.status === "ready") {
    actions.append(
      el("a", { class: "button", href: "#query", onclick: () => { pickedModel = m.id; } }, "Query"),
      el("a", { class: "button", href: API + "/models/" + m.id + "/export?format=binary", download: m.name + ".bin", onclick: ev => exportClick(ev, m, "binary", ".bin") }, "Export binary"),
      el("a", { class: "button", href: API + "/models/" + m.id + "/export?format=text", download: m.name + ".txt", onclick: ev => exportClick(ev, m, "text", ".txt") }, "Export text"));
  }
  actions.append(el("button", { class: "danger", type: "button", onclick: () => deleteModel(m) }, "Delete"));
  li.append(actions);
  return li;
}

// exportClick lets the browser follow the link when no key is needed (it
// streams to disk); with a key, fetches it with the key in the header.
function exportClick(ev, m, format, ext) {
  if (!storedKey()) return;
  ev.preventDefault();
  download("/models/" + m.id + "/export?format=" + format, m.name + ext);
}

async function deleteModel(m) {
  if (!confirm(`Delete the model "${m.name}"? Its vectors are removed; this cannot be undone.`)) return;
  try {
    await api("DELETE", "/models/" + m.id);
  } catch (e) {
    if (e.status !== 404) { alert("The model could not be deleted: " + e.message); return; }
  }
  loadModels();
}

// ---- training form ----
function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
}
function showError(form, err) {
  const field = (err.field || "").split(/[.\[]/)[0];
  const names = ["name", "urls", "files"];
  let slot = form.querySelector(`.field-error[data-for="${names.includes(field) ? field : ""}"]`);
  if (!names.includes(field) && field) {
    slot = form.querySelector('.field-error[data-for="params"]');
    form.querySelector("details.advanced").open = true;
  }
  slot.textContent = err.message;
}

$("#train-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const form = ev.target;
  clearErrors(form);
  const name = form.name.value.trim();
  const urls = form.urls.value.split("\n").map(u => u.trim()).filter(u => u !== "");
  const files = form.files.files;
  if (!name) { showError(form, new ApiError(400, "", "Give the model a name.", "name")); return; }
  if (!urls.length && !files.length) { showError(form, new ApiError(400, "", "Give at least one URL, or upload a text file.", "urls")); return; }
  const params = {};
  for (const k of ["engine", "model", "loss", "tokenizer"]) if (form[k].value) params[k] = form[k].value;
  for (const k of ["dim", "window", "negative", "minCount", "epochs", "seed", "maxVocab", "partitions"]) if (form[k].value !== "") params[k] = parseInt(form[k].value, 10);
  for (const k of ["sample", "alpha"]) if (form[k].value !== "") params[k] = parseFloat(form[k].value);
  let body;
  if (files.length) {
    body = new FormData();
    body.append("name", name);
    for (const u of urls) body.append("urls", u);
    body.append("params", JSON.stringify(params));
    for (const f of files) body.append("files", f, f.name);
  } else {
    body = { name, urls };
    if (Object.keys(params).length) body.params = params;
  }
  const button = $("#train-submit");
  button.disabled = true;
  try {
    await api("POST", "/models", body);
    form.reset();
    $("#train").open = false;
    loadModels();
  } catch (e) {
    showError(form, e);
  } finally {
    button.disabled = false;
  }
});

// ---- query ----
let pickedModel = "";

function fillModelSelect() {
  const sel = $("#query-model");
  const current = pickedModel || sel.value;
  const ready = models.filter(m => m.status === "ready");
  const opts = models.map(m => el("option", { value: m.id, disabled: m.status !== "ready" },
    m.status === "ready" ? m.name : `${m.name} (${m.status})`));
  if (!ready.length) opts.unshift(el("option", { value: "", disabled: true }, "no ready model yet"));
  sel.replaceChildren(...opts);
  const keep = ready.find(m => m.id === current) || ready[0];
  sel.value = keep ? keep.id : "";
  pickedModel = "";
}

let completeTimer = null;
$("#query-word").addEventListener("input", ev => {
  clearTimeout(completeTimer);
  const prefix = ev.target.value.trim().toLowerCase();
  const model = $("#query-model").value;
  if (!prefix || !model) return;
  completeTimer = setTimeout(async () => {
    try {
      const data = await api("GET", `/models/${model}/words?prefix=${encodeURIComponent(prefix)}&limit=12`);
      $("#query-words").replaceChildren(...data.words.map(w => el("option", { value: w.word })));
    } catch (e) { /* autocomplete is a nicety */ }
  }, 120);
});

function resultRows(list, results) {
  const top = Math.max(...results.map(r => r[0]), 1e-9);
  list.replaceChildren(...results.map(([score, word]) => el("li", {},
    el("div", { class: "row" },
      el("span", { class: "word" }, word),
      el("div", { class: "bar" }, el("span", { style: "width:" + Math.max(0, score / top * 100).toFixed(1) + "%" })),
      el("span", { class: "score" }, score.toFixed(3))))));
}

async function suggest(model, word) {
  const box = $("#suggestions");
  box.replaceChildren();
  for (let n = Math.min(word.length - 1, 4); n >= 1; n--) {
    try {
      const data = await api("GET", `/models/${model}/words?prefix=${encodeURIComponent(word.slice(0, n))}&limit=8`);
      if (data.words.length) {
        box.replaceChildren(el("span", {}, "Words of this model starting with “" + word.slice(0, n) + "”: "),
          ...data.words.map(w => el("button", { type: "button", class: "secondary", onclick: () => { $("#query-word").value = w.word; $("#query-form").requestSubmit(); } }, w.word)));
        return;
      }
    } catch (e) { return; }
  }
}

$("#query-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const model = $("#query-model").value;
  const word = $("#query-word").value.trim().toLowerCase();
  const count = parseInt($("#query-count").value, 10) || 10;
  $("#query-error").textContent = "";
  $("#suggestions").replaceChildren();
  if (!model) { $("#query-error").textContent = "Pick a ready model first (train one on the Models page)."; return; }
  if (!word) { $("#query-error").textContent = "Type a word."; return; }
  const button = $("#query-submit");
  button.disabled = true;
  try {
    const data = await api("POST", "/queries", { model, word, count });
    const q = data.query;
    $("#results-title").textContent = `Nearest to “${q.word}” in ${q.modelName}`;
    resultRows($("#result-list"), q.results);
    $("#results").hidden = false;
    plot(model, q.word, q.results.map(r => r[1]));
  } catch (e) {
    $("#results").hidden = true;
    $("#plot-card").hidden = true;
    if (e.status === 400 && e.field === "word") {
      const name = (models.find(m => m.id === model) || {}).name || "this model";
      $("#query-error").textContent = `“${word}” is not in the vocabulary of ${name}.`;
      suggest(model, word);
    } else if (e.status === 404) {
      $("#query-error").textContent = "That model is gone or not ready any more.";
      loadModels();
    } else {
      $("#query-error").textContent = e.message;
    }
  } finally {
    button.disabled = false;
  }
});

// plot draws the word and its neighbours on their first two principal
// components (power iteration on the covariance, deflated once).
async function plot(model, word, neighbours) {
  const words = [word, ...neighbours];
  let vecs;
  try {
    vecs = await Promise.all(words.map(w => api("GET", `/models/${model}/vectors/${encodeURIComponent(w)}`).then(d => d.vector)));
  } catch (e) { $("#plot-card").hidden = true; return; }
  const n = vecs.length, d = vecs[0].length;
  const unit = vecs.map(v => { const s = Math.hypot(...v) || 1; return v.map(x => x / s); });
  const mean = new Array(d).fill(0);
  for (const v of unit) v.forEach((x, j) => { mean[j] += x / n; });
  const X = unit.map(v => v.map((x, j) => x - mean[j]));
  const components = [];
  for (let c = 0; c < 2; c++) {
    let w = Array.from({ length: d }, (_, j) => Math.sin(j + 1 + c));
    for (let it = 0; it < 100; it++) {
      const proj = X.map(x => x.reduce((s, xj, j) => s + xj * w[j], 0));
      const next = new Array(d).fill(0);
      X.forEach((x, i) => x.forEach((xj, j) => { next[j] += proj[i] * xj; }));
      for (const p of components) { const dp = next.reduce((s, v, j) => s + v * p[j], 0); p.forEach((pj, j) => { next[j] -= dp * pj; }); }
      const norm = Math.hypot(...next) || 1;
      w = next.map(v => v / norm);
    }
    components.push(w);
  }
  const pts = X.map(x => components.map(w => x.reduce((s, xj, j) => s + xj * w[j], 0)));
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const W = 400, H = 300, pad = 40;
  const sx = x => pad + (x - x0) / ((x1 - x0) || 1) * (W - 2 * pad);
  const sy = y => H - pad - (y - y0) / ((y1 - y0) || 1) * (H - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  const svg = $("#plot");
  svg.replaceChildren();
  pts.forEach((p, i) => {
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", sx(p[0])); c.setAttribute("cy", sy(p[1])); c.setAttribute("r", i === 0 ? 6 : 4);
    if (i === 0) c.setAttribute("class", "query");
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", sx(p[0]) + 7); t.setAttribute("y", sy(p[1]) + 4);
    t.textContent = words[i];
    if (i === 0) t.setAttribute("font-weight", "bold");
    svg.append(c, t);
  });
  $("#plot-card").hidden = false;
}

$("#analogy-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const model = $("#query-model").value;
  const [a, b, c] = ["a", "b", "c"].map(k => $("#analogy-" + k).value.trim().toLowerCase());
  $("#analogy-error").textContent = "";
  $("#analogy-list").replaceChildren();
  if (!model) { $("#analogy-error").textContent = "Pick a ready model first."; return; }
  if (!a || !b || !c) { $("#analogy-error").textContent = "Fill in the three words: a is to b as c is to ?"; return; }
  try {
    const q = new URLSearchParams({ positive: b + "," + c, negative: a, count: "10" });
    const data = await api("GET", `/models/${model}/analogy?${q}`);
    resultRows($("#analogy-list"), data.results);
  } catch (e) {
    $("#analogy-error").textContent = e.message;
  }
});

// ---- history ----
async function loadHistory() {
  let data;
  try { data = await api("GET", "/queries"); } catch (e) { return; }
  const qs = data.queries || [];
  $("#history-empty").hidden = qs.length > 0;
  $("#history-list").replaceChildren(...qs.slice(0, 200).map(q => el("div", { class: "card" },
    el("h3", {}, q.word),
    el("p", { class: "meta" }, (q.modelName || q.model) + (q.created ? " · " + fmtTime(q.created) : "")),
    el("ol", { class: "results" }, q.results.slice(0, 5).map(r => el("li", {}, `${r[1]} (${r[0].toFixed(3)})`))))));
}

// The engine choice is offered only by a server with a Spark engine.
async function loadEngines() {
  let limits;
  try { limits = await api("GET", "/limits"); } catch (e) { return; }
  const spark = (limits.engines || []).includes("spark");
  for (const l of document.querySelectorAll(".spark-only")) l.hidden = !spark;
}

showKeyButtons();
show();
loadModels();
loadEngines();
