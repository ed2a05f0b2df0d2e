// Ophicleide's web page: models (train, watch, export, delete, scores),
// queries (nearest words with a plot and a map of the model, analogies,
// similarity, odd one out), comparing two models and the history. It
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

// ApiError carries the API's {"errors": [{status, title, details, field,
// suggestions}]} (suggestions: for an unknown word, words of the model
// nearest by spelling).
class ApiError extends Error {
  constructor(status, title, details, field, suggestions) {
    super(details || title);
    this.status = status; this.title = title; this.field = field || "";
    this.suggestions = Array.isArray(suggestions) ? suggestions : [];
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
  $("#map-card").hidden = true;
  $("#compare-result").hidden = true;
  mapCache.clear();
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
    throw new ApiError(resp.status, err ? err.title : resp.statusText, explain(resp.status, err ? err.details : "", resp.headers), err && err.field, err && err.suggestions);
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

const fmtPct = x => (typeof x === "number" && isFinite(x)) ? (x * 100).toFixed(1) + "%" : "–";
const fmtPct0 = x => (typeof x === "number" && isFinite(x)) ? Math.round(x * 100) + "%" : "–";
const fmtNum = (x, d) => (typeof x === "number" && isFinite(x)) ? x.toFixed(d) : "–";
const clamp01 = x => Math.max(0, Math.min(1, x));
const enc = encodeURIComponent;

// ---- navigation and URL state ----
// The hash is the page's state, so a view can be bookmarked, shared and
// reloaded: #models, #query, #compare and #history pick a section;
// #/query/MODEL/WORD[?count=N&restrict=N], #/analogy/MODEL/A/B/C
// [?method=3cosmul&restrict=N] and #/compare/A/B[/WORD][?count=N] reopen
// a view and run it again.
const sections = ["models", "query", "compare", "history"];
function showSection(name) {
  for (const s of sections) {
    $("#" + s).hidden = s !== name;
    const a = $("#nav-" + s);
    if (s === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (name === "history") loadHistory();
  if (name === "query") fillModelSelect();
  if (name === "compare") fillCompareSelects();
}

function withOptions(h, opts) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(opts)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? h + "?" + s : h;
}
const queryHash = (model, word, o = {}) => withOptions(`#/query/${enc(model)}/${enc(word)}`,
  { count: o.count && o.count !== 10 ? o.count : "", restrict: o.restrict || "" });
const analogyHash = (model, a, b, c, o = {}) => withOptions(`#/analogy/${enc(model)}/${enc(a)}/${enc(b)}/${enc(c)}`,
  { method: o.method && o.method !== "3cosadd" ? o.method : "", restrict: o.restrict || "" });
const compareHash = (a, b, word, o = {}) => withOptions(`#/compare/${enc(a)}/${enc(b)}` + (word ? "/" + enc(word) : ""),
  { count: o.count && o.count !== 10 ? o.count : "" });

// go opens the view of hash h: by setting the hash (hashchange routes
// it), or, when the hash is h already, by routing it again.
function go(h) {
  if (location.hash === h) route(); else location.hash = h;
}

let modelsLoadedOnce;
const modelsLoaded = new Promise(resolve => { modelsLoadedOnce = resolve; });

async function route() {
  const h = location.hash;
  if (!h.startsWith("#/")) {
    showSection(sections.includes(h.slice(1)) ? h.slice(1) : "models");
    return;
  }
  const qi = h.indexOf("?");
  const path = qi < 0 ? h.slice(2) : h.slice(2, qi);
  const opts = new URLSearchParams(qi < 0 ? "" : h.slice(qi + 1));
  const parts = path.split("/").map(p => { try { return decodeURIComponent(p); } catch (e) { return p; } });
  const int = k => { const n = parseInt(opts.get(k) || "", 10); return n > 0 ? n : 0; };
  await modelsLoaded;
  if (parts[0] === "query" && parts.length === 3 && parts[2]) {
    pickedModel = parts[1];
    showSection("query");
    openQuery(parts[1], parts[2], int("count") || 10, int("restrict"));
  } else if (parts[0] === "analogy" && parts.length === 5) {
    pickedModel = parts[1];
    showSection("query");
    openAnalogy(parts[1], parts[2], parts[3], parts[4], opts.get("method") || "3cosadd", int("restrict"));
  } else if (parts[0] === "compare" && (parts.length === 3 || parts.length === 4)) {
    showSection("compare");
    openCompare(parts[1], parts[2], parts[3] || "", int("count") || 10);
  } else {
    showSection("models");
  }
}
window.addEventListener("hashchange", route);

// ---- models ----
let models = [];
let pollTimer = null;
let listRefused = false; // the server wants a key to list models
let serverLimits = null; // GET /limits' params, for checking the form

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
  modelsLoadedOnce();
  const busy = models.some(m => inProgress(m) || (m.index && m.index.status === "building"));
  pollTimer = setTimeout(loadModels, busy || unavailable ? 1000 : 5000);
}

// inProgress: a model still being trained or imported (polled, with a
// progress bar and a Cancel button).
const inProgress = m => m.status === "queued" || m.status === "training" || m.status === "importing";

// Cards are rebuilt only when their model changed, so that what a user
// is doing on one (choosing a file to evaluate) survives the polling.
const cards = new Map(); // id -> {key, li}
const userEvaluations = new Map(); // id -> [evaluation results of uploaded files]

function renderModels() {
  const list = $("#model-list");
  $("#models-empty").hidden = models.length > 0 || unavailable || listRefused;
  const seen = new Set();
  const items = models.map(m => {
    seen.add(m.id);
    const key = JSON.stringify(m) + "|" + modelLabel(m) + "|" + (userEvaluations.get(m.id) || []).length;
    const c = cards.get(m.id);
    if (c && c.key === key) return c.li;
    const li = modelItem(m);
    cards.set(m.id, { key, li });
    return li;
  });
  for (const id of cards.keys()) if (!seen.has(id)) cards.delete(id);
  if (items.length !== list.children.length || items.some((li, i) => list.children[i] !== li)) list.replaceChildren(...items);
  if (!$("#query").hidden) fillModelSelect();
  if (!$("#compare").hidden) fillCompareSelects();
}

// modelLabel tells models with the same name apart: the name alone when
// it is unique, else with the time it was created and a short id.
function modelLabel(m) {
  if (models.filter(x => x.name === m.name).length < 2) return m.name;
  const t = m.created ? new Date(m.created).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "";
  return `${m.name} (${t ? t + ", " : ""}${m.id.slice(0, 8)})`;
}

const scoreNames = { google: "Analogies", wordsim353: "WS353", simlex999: "SimLex", men: "MEN", rw: "RW" };

// scoresList shows an evaluation: analogy accuracy and Spearman's rho of
// each similarity set, each with its coverage.
function scoresList(ev) {
  const items = [];
  for (const a of ev.analogies || []) {
    items.push(el("div", { class: "score-item", "data-name": a.name,
      title: `${fmtInt(a.answered || 0)} of ${fmtInt(a.questions || 0)} questions answered; semantic ${fmtPct(a.semantic)}, syntactic ${fmtPct(a.syntactic)}` },
      el("dt", {}, scoreNames[a.name] || a.name), el("dd", {}, el("strong", {}, fmtPct(a.accuracy)), el("small", {}, fmtPct0(a.coverage) + " covered"))));
  }
  for (const s of ev.similarities || []) {
    items.push(el("div", { class: "score-item", "data-name": s.name, title: `Spearman's rho over ${fmtInt(s.covered || 0)} of ${fmtInt(s.pairs || 0)} pairs` },
      el("dt", {}, scoreNames[s.name] || s.name), el("dd", {}, el("strong", {}, fmtNum(s.spearman, 3)), el("small", {}, fmtPct0(s.coverage) + " covered"))));
  }
  return el("dl", { class: "scores" }, items);
}

// paramsText is the model's effective parameters, in words.
function paramsText(p) {
  const parts = [];
  if (p.engine) parts.push(p.engine);
  if (p.model) parts.push(p.model);
  if (p.loss) parts.push(p.loss === "hs" ? "hierarchical softmax" : p.loss === "ns" ? "negative sampling" : p.loss);
  if (p.dim) parts.push("dim " + p.dim);
  if (p.window) parts.push("window " + p.window);
  if (p.negative) parts.push(p.negative + " negatives");
  if (p.minCount) parts.push("min count " + p.minCount);
  if (p.sample !== undefined) parts.push("sample " + p.sample);
  if (p.epochs) parts.push(p.epochs + (p.epochs === 1 ? " epoch" : " epochs"));
  if (p.alpha) parts.push("alpha " + p.alpha);
  if (p.seed !== undefined) parts.push("seed " + p.seed);
  if (p.maxVocab) parts.push("at most " + fmtInt(p.maxVocab) + " words");
  if (p.tokenizer) parts.push(p.tokenizer + " tokenizer");
  if (p.partitions) parts.push(p.partitions + " partitions");
  return parts.join(" · ");
}

function modelItem(m) {
  const dup = models.filter(x => x.name === m.name).length > 1;
  const li = el("li", { class: "model", "data-id": m.id, "data-status": m.status },
    el("h3", {}, m.name, el("span", { class: "status " + m.status }, m.status),
      el("span", { class: "model-id" + (dup ? " dup" : ""), title: "model id " + m.id }, "#" + m.id.slice(0, 8))));
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
    if (m.stats.wordsPerSecond) facts.push(fmtInt(Math.round(m.stats.wordsPerSecond)) + " words/s");
  }
  // The approximate index of a big model, as the server sees it: queries
  // are exact (and slower) until it is ready.
  if (m.status === "ready" && m.index) {
    if (m.index.status === "building") facts.push("indexing " + Math.round((m.index.fraction || 0) * 100) + "%");
    else if (m.index.status === "ready") facts.push("indexed");
  }
  li.append(el("p", { class: "meta facts" }, facts.join(" · ")));
  if (m.status === "ready" && m.params && Object.keys(m.params).length) {
    li.append(el("p", { class: "meta params" }, "Parameters: " + paramsText(m.params)));
  }
  if (m.status === "ready") {
    if (m.evaluation) {
      li.append(el("div", { class: "evaluation" }, scoresList(m.evaluation),
        m.evaluation.seconds !== undefined ? el("p", { class: "meta" }, `Scored on the bundled sets in ${fmtNum(m.evaluation.seconds, 1)} s (analogies among the 30,000 most frequent words; hover a score for details).`) : null));
    } else {
      li.append(el("p", { class: "meta evaluation-pending" }, "Scores: not computed yet."));
    }
    for (const ev of userEvaluations.get(m.id) || []) li.append(el("div", { class: "evaluation user" }, el("p", { class: "meta" }, "Your file:"), scoresList(ev)));
  }
  if (inProgress(m)) {
    const p = m.progress || {};
    const frac = Math.max(0, Math.min(1, p.fraction || 0));
    const phase = p.phase || m.status;
    const parts = [phase === "fetching" ? "fetching the text" : phase];
    if (phase === "training") {
      parts.push(Math.round(frac * 100) + "%");
      if (p.wordsPerSecond) parts.push(fmtInt(Math.round(p.wordsPerSecond)) + " words/s");
      if (p.etaSeconds) parts.push(fmtDuration(p.etaSeconds) + " left");
    } else if (phase === "importing") {
      // The fraction is of the body's bytes, 0 when its size is unknown:
      // then the rows read so far say it moves.
      if (frac > 0) parts.push(Math.round(frac * 100) + "%");
      if (p.words) parts.push(fmtInt(p.words) + " words");
    } else if (frac > 0 && phase !== "fetching") {
      parts.push(Math.round(frac * 100) + "%");
    }
    li.append(el("div", { class: "progress" },
      el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(frac * 100)), "aria-label": m.status === "importing" ? "Import progress" : "Training progress" },
        el("span", { style: "width:" + (frac * 100).toFixed(1) + "%" })),
      el("p", { class: "meta progress-text" }, parts.join(" · "))));
  }
  if (m.status === "failed") li.append(el("p", { class: "error" }, "Failed: " + (m.error || "no reason given")));
  const actions = el("div", { class: "actions" });
  if (m.status === "ready") {
    const exp = (format, ext, label, title) => el("a", { class: "button", href: API + "/models/" + m.id + "/export?format=" + format, download: m.name + ext, title,
      onclick: ev => exportClick(ev, m, format, ext) }, label);
    actions.append(
      el("a", { class: "button", href: "#query", onclick: () => { pickedModel = m.id; } }, "Query"),
      exp("binary", ".bin", "Export binary", "word2vec binary format (gensim, fastText, word2vec.c)"),
      exp("text", ".txt", "Export text", "word2vec text format"),
      exp("tsv", "-vectors.tsv", "Projector vectors (TSV)", "vectors.tsv for the TensorFlow Embedding Projector"),
      exp("tsv-metadata", "-metadata.tsv", "Projector metadata (TSV)", "metadata.tsv (the words) for the TensorFlow Embedding Projector"),
      evaluateForm(m));
  }
  if (inProgress(m)) {
    actions.append(el("button", { class: "danger", type: "button", onclick: () => deleteModel(m, true) }, "Cancel"));
  } else {
    actions.append(el("button", { class: "danger", type: "button", onclick: () => deleteModel(m, false) }, "Delete"));
  }
  li.append(actions);
  return li;
}

// evaluateForm runs a user's analogy or word-pair file against a model
// (POST /models/{id}/evaluate); the result is added to the card.
function evaluateForm(m) {
  const input = el("input", { type: "file", class: "eval-file", "aria-label": "Analogy or word-pair file", accept: ".txt,.tsv,.csv,text/plain" });
  const msg = el("span", { class: "field-error" });
  const run = async () => {
    msg.textContent = "";
    if (!input.files.length) { msg.textContent = "Choose a file first."; return; }
    const body = new FormData();
    body.append("file", input.files[0], input.files[0].name);
    try {
      const ev = await api("POST", "/models/" + m.id + "/evaluate", body);
      userEvaluations.set(m.id, [...(userEvaluations.get(m.id) || []), ev]);
      renderModels();
    } catch (e) { msg.textContent = e.message; }
  };
  return el("details", { class: "eval-own" }, el("summary", {}, "Evaluate a file"),
    el("p", { class: "meta" }, "An analogy file (word2vec's questions format) or word pairs with a score, one a line."),
    input, el("button", { type: "button", class: "secondary", onclick: run }, "Evaluate"), msg);
}

// exportClick lets the browser follow the link when no key is needed (it
// streams to disk); with a key, fetches it with the key in the header.
function exportClick(ev, m, format, ext) {
  if (!storedKey()) return;
  ev.preventDefault();
  download("/models/" + m.id + "/export?format=" + format, m.name + ext);
}

async function deleteModel(m, cancel) {
  const q = cancel ? `Cancel the training of "${modelLabel(m)}"? The model is removed.`
    : `Delete the model "${modelLabel(m)}"? Its vectors are removed; this cannot be undone.`;
  if (!confirm(q)) return;
  try {
    await api("DELETE", "/models/" + m.id);
  } catch (e) {
    if (e.status !== 404) { alert("The model could not be " + (cancel ? "cancelled" : "deleted") + ": " + e.message); return; }
  }
  mapCache.delete(m.id);
  loadModels();
}

// ---- training form ----
const paramNames = { dim: "dimension", window: "window", negative: "negative samples", minCount: "min count", sample: "subsampling",
  epochs: "epochs", alpha: "learning rate", seed: "seed", maxVocab: "max vocabulary", partitions: "Spark partitions" };

function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}
// showError puts err next to its field (the API names it) and, for a
// training parameter, in the list under the parameters too.
function showError(form, err) {
  const field = (err.field || "").split(/[.\[]/)[0];
  const names = ["name", "urls", "files"];
  let slot = form.querySelector(`.field-error[data-for="${names.includes(field) ? field : ""}"]`);
  if (!names.includes(field) && field) {
    slot = form.querySelector('.field-error[data-for="params"]');
    form.querySelector("details.advanced").open = true;
    const own = form.querySelector(`.field-error[data-field="${field}"]`);
    if (own) { own.textContent = err.message; form[field].setAttribute("aria-invalid", "true"); }
  }
  slot.textContent = err.message;
}

// checkParams finds every parameter the server would refuse for its
// range (the API reports one error a request), so that all of them are
// shown at once, each next to its field.
function checkParams(form) {
  const l = serverLimits || {};
  const errs = [];
  const num = k => form[k] && form[k].value !== "" ? Number(form[k].value) : null;
  const intIn = (k, lo, hi) => {
    const v = num(k);
    if (v === null) return;
    if (!Number.isInteger(v)) errs.push({ field: k, message: `${paramNames[k]}: ${form[k].value} is not a whole number` });
    else if (v < lo || (hi && v > hi)) errs.push({ field: k, message: `${paramNames[k]}: ${v} is not between ${lo} and ${hi || "any"}` + (hi ? "" : "") });
  };
  const atLeast = (k, lo) => {
    const v = num(k);
    if (v === null) return;
    if (!Number.isInteger(v)) errs.push({ field: k, message: `${paramNames[k]}: ${form[k].value} is not a whole number` });
    else if (v < lo) errs.push({ field: k, message: `${paramNames[k]}: ${v} is less than ${lo}` });
  };
  intIn("dim", 1, l.maxDim || 1000);
  intIn("window", 1, l.maxWindow || 50);
  intIn("negative", form.loss.value === "hs" ? 0 : 1, l.maxNegative || 50);
  atLeast("minCount", 1);
  intIn("epochs", 1, l.maxEpochs || 100);
  atLeast("seed", 0);
  atLeast("maxVocab", 0);
  if (!form.querySelector('input[name="partitions"]').closest("label").hidden) atLeast("partitions", 1);
  const sample = num("sample");
  if (sample !== null && !(sample < 1)) errs.push({ field: "sample", message: `subsampling: ${sample} is not below 1 (0 or less turns it off)` });
  const alpha = num("alpha");
  if (alpha !== null && !(alpha > 0 && alpha <= (l.maxAlpha || 1))) errs.push({ field: "alpha", message: `learning rate: must be above 0 and at most ${l.maxAlpha || 1}, not ${alpha}` });
  return errs;
}

$("#train-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const form = ev.target;
  clearErrors(form);
  const name = form.name.value.trim();
  const urls = form.urls.value.split("\n").map(u => u.trim()).filter(u => u !== "");
  const files = form.files.files;
  const errs = [];
  if (!name) errs.push({ field: "name", message: "Give the model a name." });
  if (!urls.length && !files.length) errs.push({ field: "urls", message: "Give at least one URL, or upload a text file." });
  const bad = checkParams(form);
  if (errs.length || bad.length) {
    for (const e of errs) form.querySelector(`.field-error[data-for="${e.field}"]`).textContent = e.message;
    for (const e of bad) {
      form.querySelector(`.field-error[data-field="${e.field}"]`).textContent = e.message;
      form[e.field].setAttribute("aria-invalid", "true");
    }
    if (bad.length) {
      form.querySelector("details.advanced").open = true;
      form.querySelector('.field-error[data-for="params"]').textContent =
        (bad.length === 1 ? "Fix this parameter: " : `Fix these ${bad.length} parameters: `) + bad.map(e => e.message).join("; ") + ".";
    }
    const first = form.querySelector('[aria-invalid="true"]') || (errs.length ? form[errs[0].field] : null);
    if (first) first.focus();
    return;
  }
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

function modelOptions(sel, current, fallback) {
  const ready = models.filter(m => m.status === "ready");
  const opts = models.map(m => el("option", { value: m.id, disabled: m.status !== "ready" },
    m.status === "ready" ? modelLabel(m) : `${modelLabel(m)} (${m.status})`));
  if (!ready.length) opts.unshift(el("option", { value: "", disabled: true }, "no ready model yet"));
  const same = sel.options.length === opts.length && opts.every((o, i) => sel.options[i].value === o.value && sel.options[i].textContent === o.textContent && sel.options[i].disabled === o.disabled);
  if (!same) sel.replaceChildren(...opts);
  const keep = ready.find(m => m.id === current) || fallback(ready);
  sel.value = keep ? keep.id : "";
}

function fillModelSelect() {
  const sel = $("#query-model");
  modelOptions(sel, pickedModel || sel.value, ready => ready[0]);
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
      const data = await api("GET", `/models/${model}/words?prefix=${enc(prefix)}&limit=12`);
      $("#query-words").replaceChildren(...data.words.map(w => el("option", { value: w.word })));
    } catch (e) { /* autocomplete is a nicety */ }
  }, 120);
});

// resultRows lists [score, word] pairs with bars on the cosine's 0..1
// scale; with href, each word links to its own query.
function resultRows(list, results, href) {
  list.replaceChildren(...results.map(([score, word]) => el("li", {},
    el("div", { class: "row" },
      href ? el("a", { class: "word", href: href(word), title: "Neighbours of " + word }, word) : el("span", { class: "word" }, word),
      el("div", { class: "bar", title: "cosine " + score.toFixed(3) }, el("span", { style: "width:" + (clamp01(score) * 100).toFixed(1) + "%" })),
      el("span", { class: "score" }, score.toFixed(3))))));
}

// suggestWords shows the server's suggestions for an unknown word (the
// words nearest by spelling) as buttons that ask for them.
function suggestWords(words) {
  $("#suggestions").replaceChildren(el("span", {}, "Did you mean: "),
    ...words.map(w => el("button", { type: "button", class: "secondary", onclick: () => { $("#query-word").value = w; $("#query-form").requestSubmit(); } }, w)));
}

async function suggest(model, word) {
  const box = $("#suggestions");
  box.replaceChildren();
  for (let n = Math.min(word.length - 1, 4); n >= 1; n--) {
    try {
      const data = await api("GET", `/models/${model}/words?prefix=${enc(word.slice(0, n))}&limit=8`);
      if (data.words.length) {
        box.replaceChildren(el("span", {}, "Words of this model starting with “" + word.slice(0, n) + "”: "),
          ...data.words.map(w => el("button", { type: "button", class: "secondary", onclick: () => { $("#query-word").value = w.word; $("#query-form").requestSubmit(); } }, w.word)));
        return;
      }
    } catch (e) { return; }
  }
}

const modelName = id => { const m = models.find(m => m.id === id); return m ? modelLabel(m) : "this model"; };
// readyModel says why id cannot be queried, "" when it can.
function notReady(id) {
  const m = models.find(m => m.id === id);
  if (!m) return "The model of this link is not on this server (deleted, or a link from another server?).";
  if (m.status !== "ready") return `The model ${modelLabel(m)} is ${m.status}, not ready yet.`;
  return "";
}

$("#query-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const model = $("#query-model").value;
  const word = $("#query-word").value.trim().toLowerCase();
  const count = parseInt($("#query-count").value, 10) || 10;
  const restrict = parseInt($("#query-restrict").value, 10) || 0;
  $("#query-error").textContent = "";
  $("#suggestions").replaceChildren();
  if (!model) { $("#query-error").textContent = "Pick a ready model first (train one on the Models page)."; return; }
  if (!word) { $("#query-error").textContent = "Type a word."; return; }
  if (count < 1 || count > 100) { $("#query-error").textContent = "Neighbours: between 1 and 100."; return; }
  go(queryHash(model, word, { count, restrict }));
});

let querySeq = 0;
async function openQuery(model, word, count, restrict) {
  $("#query-word").value = word;
  $("#query-count").value = String(count);
  $("#query-restrict").value = restrict ? String(restrict) : "";
  $("#query-error").textContent = "";
  $("#suggestions").replaceChildren();
  const why = notReady(model);
  if (why) { $("#query-error").textContent = why; hideResults(); return; }
  $("#query-model").value = model;
  const seq = ++querySeq;
  const button = $("#query-submit");
  button.disabled = true;
  try {
    let results, shown, name, oov;
    if (restrict) {
      // GET /similar: the API history keeps POST /queries only, so this
      // one is kept in this browser's history.
      const data = await api("GET", `/models/${model}/similar?` + new URLSearchParams({ word, count: String(count), restrict: String(restrict) }));
      results = data.results; shown = data.word; name = modelName(model); oov = data.oov === true;
      remember({ kind: "query", hash: queryHash(model, shown, { count, restrict }), model, modelName: name,
        title: shown, note: `among the ${fmtInt(restrict)} most frequent words`, results: results.slice(0, 5) });
    } else {
      const data = await api("POST", "/queries", { model, word, count });
      results = data.query.results; shown = data.query.word; name = data.query.modelName; oov = data.query.oov === true;
    }
    if (seq !== querySeq) return;
    const m = models.find(m => m.id === model);
    $("#results-title").textContent = `Nearest to “${shown}” in ${m ? modelLabel(m) : name}` + (restrict ? ` (among the ${fmtInt(restrict)} most frequent words)` : "");
    resultRows($("#result-list"), results, w => queryHash(model, w, { count, restrict }));
    // A model trained with subwords answers for a misspelt or unseen
    // word from its character n-grams: say so.
    $("#results-oov").textContent = oov ? `“${shown}” is not in the vocabulary: its vector is built from its character n-grams.` : "";
    $("#results-oov").hidden = !oov;
    $("#results").hidden = false;
    plot(model, shown, results, { count, restrict }, seq);
    showMap(model, shown, results.map(r => r[1]), seq);
  } catch (e) {
    if (seq !== querySeq) return;
    hideResults();
    if (e.status === 400 && e.field === "word") {
      $("#query-error").textContent = `“${word}” is not in the vocabulary of ${modelName(model)}.`;
      if (e.suggestions.length) suggestWords(e.suggestions); else suggest(model, word);
    } else if (e.status === 404) {
      $("#query-error").textContent = "That model is gone or not ready any more.";
      loadModels();
    } else {
      $("#query-error").textContent = e.message;
    }
  } finally {
    if (seq === querySeq) button.disabled = false;
  }
}

function hideResults() {
  $("#results").hidden = true;
  $("#plot-card").hidden = true;
  if (mapState) { mapState.query = ""; mapState.near = new Set(); drawMap(); }
}

// pca2 projects row vectors (made unit length and centred) on their
// first two principal components: power iteration on the covariance,
// deflated once.
function pca2(vecs) {
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
  return X.map(x => components.map(w => x.reduce((s, xj, j) => s + xj * w[j], 0)));
}

// textWidth measures a label in the page's font (a canvas, no layout).
const measureCtx = document.createElement("canvas").getContext("2d");
function textWidth(s, px, bold) {
  measureCtx.font = `${bold ? "bold " : ""}${px}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
  return measureCtx.measureText(s).width;
}

// placeLabels picks, in the order given, a spot for each label beside its
// point (right, left, above, below, then diagonals) that stays inside
// [x0, x1] x [y0, y1] and overlaps no label placed before; a label with
// no free spot is left out (its point still shows it on hover).
// items: {x, y, r, w, h, bold}; returns [{i, x, y, anchor}] in units.
// With avoidPoints, a label covers no other point either.
function placeLabels(items, box, max, avoidPoints) {
  const placed = [], out = [];
  const apart = (b, p) => b[2] <= p[0] || b[0] >= p[2] || b[3] <= p[1] || b[1] >= p[3];
  const dots = avoidPoints ? items.map(p => [p.x - p.r, p.y - p.r, p.x + p.r, p.y + p.r]) : [];
  let self = -1;
  const free = b => b[0] >= box[0] && b[2] <= box[2] && b[1] >= box[1] && b[3] <= box[3] &&
    placed.every(p => apart(b, p)) && dots.every((p, j) => j === self || apart(b, p));
  for (let i = 0; i < items.length && out.length < max; i++) {
    self = i;
    const { x, y, r, w, h } = items[i];
    const g = r + h * 0.25, asc = h * 0.95, desc = h * 0.3;
    const spots = [
      [x + g, y + h * 0.35, "start"], [x - g, y + h * 0.35, "end"],
      [x, y - g - desc, "middle"], [x, y + g + asc, "middle"],
      [x + g, y - g, "start"], [x - g, y - g, "end"], [x + g, y + g + asc * 0.7, "start"], [x - g, y + g + asc * 0.7, "end"]];
    for (const [tx, ty, anchor] of spots) {
      const left = anchor === "start" ? tx : anchor === "end" ? tx - w : tx - w / 2;
      const b = [left - 1, ty - asc, left + w + 1, ty + desc];
      if (free(b)) { placed.push(b); out.push({ i, x: tx, y: ty, anchor }); break; }
    }
  }
  return out;
}

const SVGNS = "http://www.w3.org/2000/svg";
const svgEl = (tag, attrs = {}, text) => {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};

// showTip shows a tooltip over box (a .plot-box) at the client point.
function showTip(tip, box, clientX, clientY, textValue) {
  const r = box.getBoundingClientRect();
  tip.textContent = textValue;
  tip.hidden = false;
  const w = tip.offsetWidth, h = tip.offsetHeight;
  tip.style.left = Math.max(0, Math.min(r.width - w, clientX - r.left + 10)) + "px";
  tip.style.top = Math.max(0, Math.min(r.height - h, clientY - r.top - h - 8)) + "px";
}

// ---- the plot of a query's neighbourhood ----
let plotState = null;

// plot fetches the vectors of the word and its neighbours in one request
// (POST /models/{id}/vectors) and draws them on their first two
// principal components.
async function plot(model, word, results, opts, seq) {
  const words = [word, ...results.map(r => r[1])];
  let data;
  try {
    data = await api("POST", `/models/${model}/vectors`, { words });
  } catch (e) { if (seq === querySeq) $("#plot-card").hidden = true; return; }
  if (seq !== querySeq) return;
  const known = words.map((w, i) => ({ w, i, v: data.vectors && data.vectors[w] })).filter(x => x.v && x.v.length);
  if (known.length < 2) { $("#plot-card").hidden = true; return; }
  const pts = pca2(known.map(x => x.v));
  const scores = [1, ...results.map(r => r[0])];
  plotState = { model, opts, words: known.map(x => x.w), scores: known.map(x => scores[x.i]), query: known[0].i === 0 ? word : "", pts };
  $("#plot-card").hidden = false;
  drawPlot();
}

function drawPlot() {
  if (!plotState) return;
  const { words, scores, pts, query, model, opts } = plotState;
  const big = $("#plot-card").classList.contains("big");
  const W = big ? 960 : 400, H = big ? 600 : 300, pad = 10, fs = big ? 13 : 11;
  const svg = $("#plot");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  // One scale for both axes: distances on the picture are distances in
  // the projection, whichever way they point.
  const s = Math.min((W - 2 * pad) / ((x1 - x0) || 1), (H - 2 * pad) / ((y1 - y0) || 1));
  const xm = (x0 + x1) / 2, ym = (y0 + y1) / 2;
  const X = x => W / 2 + (x - xm) * s, Y = y => H / 2 - (y - ym) * s;
  svg.replaceChildren();
  const items = pts.map((p, i) => ({ x: X(p[0]), y: Y(p[1]), r: words[i] === query ? 6 : 4, h: fs,
    w: textWidth(words[i], fs, words[i] === query) }));
  const circles = pts.map((p, i) => {
    const c = svgEl("circle", { cx: items[i].x.toFixed(2), cy: items[i].y.toFixed(2), r: items[i].r, "data-word": words[i],
      "data-x": p[0], "data-y": p[1], class: words[i] === query ? "query" : null, tabindex: "0" });
    c.append(svgEl("title", {}, undefined));
    c.firstChild.textContent = `${words[i]} ${words[i] === query ? "(the query)" : scores[i].toFixed(3)}`;
    return c;
  });
  svg.append(...circles);
  const labels = placeLabels(items, [0, 0, W, H], big ? 100 : 40, true);
  const labelled = new Set();
  for (const l of labels) {
    labelled.add(l.i);
    svg.append(svgEl("text", { x: l.x.toFixed(2), y: l.y.toFixed(2), "text-anchor": l.anchor, "font-size": fs, "data-word": words[l.i],
      "font-weight": words[l.i] === query ? "bold" : null }, words[l.i]));
  }
  circles.forEach((c, i) => { if (!labelled.has(i)) c.classList.add("unlabelled"); });
  const hidden = words.length - labels.length;
  $("#plot-note").textContent = hidden > 0 ? `${hidden} of ${words.length} words ${hidden === 1 ? "has" : "have"} no room for a label: point at a dot to see its word` + (big ? "." : ", or open the larger view.") : "";
  const tip = $("#plot-tip"), box = svg.parentElement;
  svg.onmousemove = ev => {
    const w = ev.target.getAttribute && ev.target.getAttribute("data-word");
    if (!w) { tip.hidden = true; return; }
    const i = words.indexOf(w);
    showTip(tip, box, ev.clientX, ev.clientY, w === query ? `${w} (the query)` : `${w} · ${scores[i].toFixed(3)}`);
  };
  svg.onmouseleave = () => { tip.hidden = true; };
  svg.onclick = ev => {
    const w = ev.target.getAttribute && ev.target.getAttribute("data-word");
    if (w && w !== query) go(queryHash(model, w, opts));
  };
  svg.onkeydown = ev => {
    const w = ev.target.getAttribute && ev.target.getAttribute("data-word");
    if (w && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); go(queryHash(model, w, opts)); }
  };
}

$("#plot-expand").addEventListener("click", () => {
  const card = $("#plot-card");
  const big = card.classList.toggle("big");
  $("#results-wrap").classList.toggle("plot-big", big);
  $("#plot-expand").setAttribute("aria-pressed", String(big));
  $("#plot-expand").textContent = big ? "Smaller view" : "Larger view";
  drawPlot();
  if (big) card.scrollIntoView({ block: "nearest" });
});

// ---- the map of a model ----
// GET /models/{id}/map gives the most frequent words projected once on
// the server; the page keeps one answer per model and draws every word
// as a dot of one <path> (a dot stays the same size on screen at any
// zoom), labels as many words as fit without overlap (the most frequent
// first, the query and its neighbours always), and pans and zooms by
// changing the viewBox.
const MAP_COUNT = 2000;
const mapCache = new Map(); // model id -> Promise of the prepared map
let mapState = null;

function prepareMap(d) {
  const xs = d.points.map(p => p[0]), ys = d.points.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const s = 1000 / (Math.max(x1 - x0, y1 - y0) || 1);
  const pts = d.points.map(([x, y]) => [(x - x0) * s, (y1 - y) * s]);
  const index = new Map(d.words.map((w, i) => [w, i]));
  // The first view leaves out the farthest 1% on each side (a few
  // outliers would squeeze everything else into a corner); zooming out
  // shows them.
  const q = (v, f) => { const o = [...v].sort((a, b) => a - b); return o[Math.min(o.length - 1, Math.floor(f * (o.length - 1)))]; };
  const px = pts.map(p => p[0]), py = pts.map(p => p[1]);
  const home = { x0: q(px, 0.01), x1: q(px, 0.99), y0: q(py, 0.01), y1: q(py, 0.99) };
  return { words: d.words, pts, index, method: d.method, home };
}

async function showMap(model, word, neighbours, seq) {
  let p = mapCache.get(model);
  if (!p) {
    p = api("GET", `/models/${model}/map?count=${MAP_COUNT}`).then(prepareMap);
    mapCache.set(model, p);
    p.catch(() => mapCache.delete(model));
  }
  let m;
  try { m = await p; } catch (e) { if (seq === querySeq) $("#map-card").hidden = true; return; }
  if (seq !== querySeq) return;
  const fresh = !mapState || mapState.model !== model;
  mapState = { ...m, model, query: word, near: new Set(neighbours), vb: fresh ? null : mapState.vb, base: fresh ? null : mapState.base, dots: fresh ? null : mapState.dots };
  $("#map-card").hidden = false;
  if (fresh) resetMap(); else drawMap();
  const shown = neighbours.filter(w => m.index.has(w)).length;
  $("#map-info").textContent = `(${fmtInt(m.words.length)} most frequent words, ${m.method || "pca"}; ` +
    (m.index.has(word) ? `“${word}” and ${shown} of its ${neighbours.length} neighbours in red)` : `“${word}” is not among them; ${shown} of its neighbours are, in red)`);
}

// mapAspect fits a viewBox to the element's shape, so that both axes keep
// one scale.
function mapFit(vb) {
  const svg = $("#map");
  const aspect = (svg.clientWidth || 1000) / (svg.clientHeight || 600);
  const cx = vb.x + vb.w / 2, cy = vb.y + vb.h / 2;
  let w = vb.w, h = vb.h;
  if (w / h < aspect) w = h * aspect; else h = w / aspect;
  return { x: cx - w / 2, y: cy - h / 2, w, h };
}

function resetMap() {
  if (!mapState) return;
  const h = mapState.home, pad = 0.06 * Math.max(h.x1 - h.x0, h.y1 - h.y0, 1);
  mapState.vb = mapFit({ x: h.x0 - pad, y: h.y0 - pad, w: h.x1 - h.x0 + 2 * pad, h: h.y1 - h.y0 + 2 * pad });
  mapState.base = mapState.vb;
  drawMap();
}

function zoomMap(f, cx, cy) {
  const vb = mapState.vb, base = mapState.base;
  const w = Math.max(base.w / 200, Math.min(base.w * 8, vb.w * f));
  f = w / vb.w;
  if (cx === undefined) { cx = vb.x + vb.w / 2; cy = vb.y + vb.h / 2; }
  mapState.vb = { x: cx - (cx - vb.x) * f, y: cy - (cy - vb.y) * f, w: vb.w * f, h: vb.h * f };
  scheduleMap();
}

let mapFrame = 0;
function scheduleMap() {
  if (!mapFrame) mapFrame = requestAnimationFrame(() => { mapFrame = 0; drawMap(); });
}

function drawMap() {
  if (!mapState || !mapState.vb) return;
  const svg = $("#map");
  const { pts, words, vb, query, near } = mapState;
  svg.setAttribute("viewBox", `${vb.x.toFixed(3)} ${vb.y.toFixed(3)} ${vb.w.toFixed(3)} ${vb.h.toFixed(3)}`);
  const upp = vb.w / (svg.clientWidth || 1000); // map units per pixel
  mapState.shownWidth = svg.clientWidth;
  const dotsG = $("#map-points");
  if (!mapState.dots) {
    mapState.dots = true;
    let d = "";
    for (const [x, y] of pts) d += `M${x.toFixed(2)} ${y.toFixed(2)}h0.01`;
    dotsG.replaceChildren(svgEl("path", { d, class: "dots", "vector-effect": "non-scaling-stroke" }));
  }
  // The query and its neighbours: circles sized for the current zoom.
  for (const c of [...dotsG.querySelectorAll("circle")]) c.remove();
  const hits = [];
  if (mapState.index.has(query)) hits.push(mapState.index.get(query));
  for (const w of near) if (mapState.index.has(w)) hits.push(mapState.index.get(w));
  for (const i of hits) {
    dotsG.append(svgEl("circle", { cx: pts[i][0], cy: pts[i][1], r: (words[i] === query ? 6 : 4.5) * upp,
      class: words[i] === query ? "query" : "near", "data-word": words[i] }));
  }
  // Labels: the highlighted words first, then by frequency, as many as fit.
  const fs = 12, inView = i => pts[i][0] >= vb.x && pts[i][0] <= vb.x + vb.w && pts[i][1] >= vb.y && pts[i][1] <= vb.y + vb.h;
  const order = [...hits];
  const hitSet = new Set(hits);
  for (let i = 0; i < pts.length; i++) if (!hitSet.has(i) && inView(i)) order.push(i);
  const items = order.map(i => ({ x: pts[i][0], y: pts[i][1], r: (hitSet.has(i) ? 5 : 2) * upp, h: fs * upp,
    w: textWidth(words[i], fs, words[i] === query) * upp }));
  const labels = placeLabels(items, [vb.x, vb.y, vb.x + vb.w, vb.y + vb.h], 160);
  $("#map-labels").replaceChildren(...labels.map(l => {
    const i = order[l.i];
    return svgEl("text", { x: l.x.toFixed(3), y: l.y.toFixed(3), "text-anchor": l.anchor, "font-size": (fs * upp).toFixed(4), "data-word": words[i],
      class: words[i] === query ? "query" : near.has(words[i]) ? "near" : null }, words[i]);
  }));
}

// mapPointAt is the map point nearest the client position within 8 px,
// or -1.
function mapPointAt(clientX, clientY) {
  const svg = $("#map"), r = svg.getBoundingClientRect(), vb = mapState.vb;
  const upp = vb.w / r.width;
  const x = vb.x + (clientX - r.left) * upp, y = vb.y + (clientY - r.top) * upp;
  let best = -1, bd = (8 * upp) ** 2;
  mapState.pts.forEach(([px, py], i) => { const d = (px - x) ** 2 + (py - y) ** 2; if (d < bd) { bd = d; best = i; } });
  return best;
}

(function mapControls() {
  const svg = $("#map"), tip = $("#map-tip");
  let drag = null;
  svg.addEventListener("pointerdown", ev => {
    if (!mapState || ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, vb: mapState.vb, moved: false, word: ev.target.getAttribute("data-word") };
    svg.setPointerCapture(ev.pointerId);
  });
  svg.addEventListener("pointermove", ev => {
    if (!mapState) return;
    if (drag) {
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        const upp = drag.vb.w / svg.getBoundingClientRect().width;
        mapState.vb = { ...drag.vb, x: drag.vb.x - dx * upp, y: drag.vb.y - dy * upp };
        svg.classList.add("dragging");
        tip.hidden = true;
        scheduleMap();
      }
      return;
    }
    const i = mapPointAt(ev.clientX, ev.clientY);
    svg.classList.toggle("over-word", i >= 0);
    if (i < 0) { tip.hidden = true; return; }
    showTip(tip, svg.parentElement, ev.clientX, ev.clientY, `${mapState.words[i]} · #${i + 1} by frequency`);
  });
  const end = ev => {
    if (!drag) return;
    const d = drag;
    drag = null;
    svg.classList.remove("dragging");
    if (d.moved || ev.type === "pointercancel") return;
    let w = d.word;
    if (!w) { const i = mapPointAt(ev.clientX, ev.clientY); if (i >= 0) w = mapState.words[i]; }
    if (w) go(queryHash(mapState.model, w));
  };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  svg.addEventListener("mouseleave", () => { tip.hidden = true; });
  svg.addEventListener("wheel", ev => {
    if (!mapState) return;
    ev.preventDefault();
    const r = svg.getBoundingClientRect(), vb = mapState.vb, upp = vb.w / r.width;
    zoomMap(ev.deltaY > 0 ? 1.25 : 0.8, vb.x + (ev.clientX - r.left) * upp, vb.y + (ev.clientY - r.top) * upp);
  }, { passive: false });
  $("#map-in").addEventListener("click", () => { if (mapState) zoomMap(0.66); });
  $("#map-out").addEventListener("click", () => { if (mapState) zoomMap(1.5); });
  $("#map-reset").addEventListener("click", resetMap);
  // A resize keeps the centre and the scale (map units per pixel).
  window.addEventListener("resize", () => {
    if (mapState && mapState.vb && mapState.shownWidth && svg.clientWidth) {
      const vb = mapState.vb, upp = vb.w / mapState.shownWidth, w = svg.clientWidth * upp, h = svg.clientHeight * upp;
      mapState.vb = { x: vb.x + vb.w / 2 - w / 2, y: vb.y + vb.h / 2 - h / 2, w, h };
      scheduleMap();
    }
    if (plotState) drawPlot();
  });
})();

// ---- analogy, similarity, odd one out ----
$("#analogy-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const model = $("#query-model").value;
  const [a, b, c] = ["a", "b", "c"].map(k => $("#analogy-" + k).value.trim().toLowerCase());
  $("#analogy-error").textContent = "";
  if (!model) { $("#analogy-error").textContent = "Pick a ready model first."; return; }
  if (!a || !b || !c) { $("#analogy-error").textContent = "Fill in the three words: a is to b as c is to ?"; return; }
  go(analogyHash(model, a, b, c, { method: $("#analogy-method").value, restrict: parseInt($("#analogy-restrict").value, 10) || 0 }));
});

async function openAnalogy(model, a, b, c, method, restrict) {
  $("#analogy-a").value = a; $("#analogy-b").value = b; $("#analogy-c").value = c;
  $("#analogy-method").value = method === "3cosmul" ? "3cosmul" : "3cosadd";
  $("#analogy-restrict").value = restrict ? String(restrict) : "";
  $("#analogy-error").textContent = "";
  $("#analogy-list").replaceChildren();
  $("#analogy-note").textContent = "";
  const why = notReady(model);
  if (why) { $("#analogy-error").textContent = why; return; }
  $("#query-model").value = model;
  $("#analogy-form").scrollIntoView({ block: "nearest" });
  try {
    const q = new URLSearchParams({ positive: b + "," + c, negative: a, count: "10" });
    if (method === "3cosmul") q.set("method", "3cosmul");
    if (restrict) q.set("restrict", String(restrict));
    const data = await api("GET", `/models/${model}/analogy?${q}`);
    resultRows($("#analogy-list"), data.results, w => queryHash(model, w));
    $("#analogy-note").textContent = method === "3cosmul"
      ? "3CosMul scores are cos(d,b)·cos(d,c) / (cos(d,a) + ε) with each cosine shifted to 0..1: they may exceed 1, and the bars stop at 1."
      : "Scores are the cosine of each word to b − a + c.";
    if (data.oov) $("#analogy-note").textContent += " " + oovNote(data.oov);
    remember({ kind: "analogy", hash: analogyHash(model, a, b, c, { method, restrict }), model, modelName: modelName(model),
      title: `${a} : ${b} :: ${c} : ?`, note: (method === "3cosmul" ? "3CosMul" : "3CosAdd") + (restrict ? `, among the ${fmtInt(restrict)} most frequent words` : ""),
      results: data.results.slice(0, 5) });
  } catch (e) {
    $("#analogy-error").textContent = e.message + didYouMean(e);
  }
}

// oovNote says which words a subword model built from their character
// n-grams; didYouMean lists an error's suggestions, if any.
const oovNote = words => `Not in the vocabulary, built from their character n-grams: ${words.join(", ")}.`;
const didYouMean = e => e.suggestions && e.suggestions.length ? ` Did you mean: ${e.suggestions.join(", ")}?` : "";

$("#similarity-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const model = $("#query-model").value;
  const [a, b] = ["a", "b"].map(k => $("#similarity-" + k).value.trim().toLowerCase());
  const out = $("#similarity-result");
  $("#similarity-error").textContent = "";
  out.replaceChildren();
  if (!model) { $("#similarity-error").textContent = "Pick a ready model first."; return; }
  if (!a || !b) { $("#similarity-error").textContent = "Type two words."; return; }
  try {
    const d = await api("GET", `/models/${model}/similarity?` + new URLSearchParams({ a, b }));
    out.replaceChildren(el("div", { class: "row" }, el("span", { class: "word" }, `${d.a} · ${d.b}`),
      el("div", { class: "bar" }, el("span", { style: "width:" + (clamp01(d.similarity) * 100).toFixed(1) + "%" })),
      el("span", { class: "score" }, d.similarity.toFixed(3))),
      d.oov ? el("p", { class: "oov-note" }, oovNote(d.oov)) : null);
  } catch (e) {
    $("#similarity-error").textContent = e.message + didYouMean(e);
  }
});

$("#odd-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const model = $("#query-model").value;
  const words = $("#odd-words").value.toLowerCase().split(/[\s,]+/).filter(w => w);
  const out = $("#odd-result");
  $("#odd-error").textContent = "";
  out.replaceChildren();
  if (!model) { $("#odd-error").textContent = "Pick a ready model first."; return; }
  if (words.length < 3) { $("#odd-error").textContent = "Give at least three words, separated by spaces or commas."; return; }
  try {
    const d = await api("GET", `/models/${model}/doesntmatch?` + new URLSearchParams({ words: words.join(",") }));
    const list = el("ol", { class: "results" });
    out.replaceChildren(el("p", { class: "odd-word" }, "The odd one out: ", el("strong", {}, d.word)), list,
      d.unknown && d.unknown.length ? el("p", { class: "meta" }, "Not in the vocabulary: " + d.unknown.join(", ")) : null,
      d.oov && d.oov.length ? el("p", { class: "oov-note" }, oovNote(d.oov)) : null,
      el("p", { class: "meta" }, "Each word's cosine to the mean of the others; the odd one has the lowest."));
    resultRows(list, d.words.map(x => [x.score, x.word]), w => queryHash(model, w));
    for (const li of list.children) if (li.querySelector(".word").textContent === d.word) li.classList.add("odd");
  } catch (e) {
    $("#odd-error").textContent = e.message;
  }
});

// ---- compare two models ----
function fillCompareSelects() {
  const a = $("#compare-a"), b = $("#compare-b");
  modelOptions(a, a.value, ready => ready[0]);
  modelOptions(b, b.value, ready => ready.find(m => m.id !== a.value) || ready[0]);
}

$("#compare-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const a = $("#compare-a").value, b = $("#compare-b").value;
  const word = $("#compare-word").value.trim().toLowerCase();
  const count = parseInt($("#compare-count").value, 10) || 10;
  $("#compare-error").textContent = "";
  if (!a || !b) { $("#compare-error").textContent = "Pick two ready models (train a second one, or retrain on more text)."; return; }
  if (a === b) { $("#compare-error").textContent = "Pick two different models."; return; }
  go(compareHash(a, b, word, { count }));
});

async function openCompare(a, b, word, count) {
  fillCompareSelects();
  $("#compare-error").textContent = "";
  for (const id of [a, b]) {
    const why = notReady(id);
    if (why) { $("#compare-error").textContent = why; $("#compare-result").hidden = true; return; }
  }
  $("#compare-a").value = a; $("#compare-b").value = b;
  $("#compare-word").value = word;
  $("#compare-count").value = String(count);
  const button = $("#compare-submit");
  button.disabled = true;
  try {
    const q = new URLSearchParams({ a, b, count: String(count), moved: "20" });
    if (word) q.set("word", word);
    const d = await api("GET", "/compare?" + q);
    renderCompare(d, count);
  } catch (e) {
    $("#compare-result").hidden = true;
    $("#compare-error").textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

function renderCompare(d, count) {
  const label = x => { const m = models.find(m => m.id === x.id); return m ? modelLabel(m) : x.name; };
  const an = label(d.a), bn = label(d.b);
  $("#compare-summary").textContent = `${an} and ${bn} share ${fmtInt(d.shared)} words; ${bn} was rotated onto ${an} using the ${fmtInt(d.aligned)} most frequent of them.`;
  const nb = d.neighbours;
  $("#compare-neighbours").hidden = !nb;
  if (nb) {
    const overlap = new Set(nb.overlap || []);
    $("#compare-neighbours-title").textContent = `Neighbours of “${d.word}”`;
    $("#compare-overlap").textContent = `${overlap.size} of ${count} in both (marked ✓; Jaccard ${fmtNum(nb.jaccard, 2)}).`;
    $("#compare-a-name").textContent = an;
    $("#compare-b-name").textContent = bn;
    for (const [side, list] of [["a", $("#compare-list-a")], ["b", $("#compare-list-b")]]) {
      resultRows(list, nb[side] || [], w => compareHash(d.a.id, d.b.id, w, { count }));
      for (const li of list.children) {
        const w = li.querySelector(".word").textContent;
        const both = overlap.has(w);
        if (both) li.classList.add("overlap");
        li.querySelector(".row").append(el("span", { class: "mark", title: both ? "in both models" : null }, both ? "✓" : ""));
      }
    }
  }
  $("#compare-moved-a").textContent = "neighbours in " + an;
  $("#compare-moved-b").textContent = "neighbours in " + bn;
  $("#compare-moved-list").replaceChildren(...(d.moved || []).map(m => el("tr", {},
    el("td", {}, el("a", { class: "word", href: compareHash(d.a.id, d.b.id, m.word, { count }), title: "Compare the neighbours of " + m.word }, m.word)),
    el("td", { class: "score" }, fmtNum(m.distance, 3)),
    el("td", { class: "nb-a" }, (m.a || []).join(", ")),
    el("td", { class: "nb-b" }, (m.b || []).join(", ")))));
  $("#compare-moved").hidden = !(d.moved && d.moved.length);
  $("#compare-result").hidden = false;
}

// ---- history ----
// The API keeps POST /queries; analogies and queries limited to the most
// frequent words (GET endpoints) are kept in this browser's local storage
// (only once one is asked), newest first, at most 100.
const HISTORY_STORE = "ophicleide.history";
function localHistory() {
  try { const l = JSON.parse(localStorage.getItem(HISTORY_STORE) || "[]"); return Array.isArray(l) ? l : []; } catch (e) { return []; }
}
function remember(entry) {
  entry.created = new Date().toISOString();
  const list = [entry, ...localHistory().filter(e => e.hash !== entry.hash)].slice(0, 100);
  try { localStorage.setItem(HISTORY_STORE, JSON.stringify(list)); } catch (e) { /* storage off or full */ }
}

async function loadHistory() {
  let data = { queries: [] };
  try { data = await api("GET", "/queries"); } catch (e) { /* the local history still shows */ }
  const remote = (data.queries || []).map(q => ({ kind: "query", hash: queryHash(q.model, q.word, { count: q.results.length }), title: q.word,
    modelName: models.some(m => m.id === q.model) ? modelName(q.model) : q.modelName || q.model, created: q.created, results: q.results,
    note: q.oov ? "not in the vocabulary (from its n-grams)" : "" }));
  // The same query asked again is one entry (the newest), with how often.
  const byHash = new Map();
  for (const h of [...remote, ...localHistory()].sort((x, y) => (Date.parse(y.created) || 0) - (Date.parse(x.created) || 0))) {
    const seen = byHash.get(h.hash);
    if (seen) seen.times++; else byHash.set(h.hash, { ...h, times: 1 });
  }
  const all = [...byHash.values()].slice(0, 200);
  for (const h of all) if (h.times > 1) h.note = [h.note, `asked ${h.times} times`].filter(x => x).join(", ");
  $("#history-empty").hidden = all.length > 0;
  $("#history-list").replaceChildren(...all.map(h => el("a", { class: "card entry " + h.kind, href: h.hash, title: "Open this " + h.kind + " again" },
    el("h3", {}, h.kind === "analogy" ? el("span", { class: "kind" }, "analogy ") : null, h.title),
    el("p", { class: "meta" }, [h.modelName, h.note, h.created ? fmtTime(h.created) : ""].filter(x => x).join(" · ")),
    el("ol", { class: "results" }, (h.results || []).slice(0, 5).map(r => el("li", {}, `${r[1]} (${r[0].toFixed(3)})`))))));
}

// The engine choice is offered only by a server with a Spark engine; the
// parameter limits check the form.
async function loadEngines() {
  let limits;
  try { limits = await api("GET", "/limits"); } catch (e) { return; }
  const l = limits.limits || limits;
  serverLimits = l.params || null;
  const spark = (l.engines || []).includes("spark");
  for (const x of document.querySelectorAll(".spark-only")) x.hidden = !spark;
}

showKeyButtons();
route();
loadModels();
loadEngines();
