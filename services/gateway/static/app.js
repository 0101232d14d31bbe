// invoiceflow upload page: upload files, follow every task live over /ws, survive reconnects.
//
// Every task remembers the last `seq` it showed. On every (re)connect the page sends
// `join_task` with `after_seq` = that seq, the gateway replays what came after it, and anything
// with seq <= the last one shown is ignored: a restart in the middle of a batch loses no update
// and shows none twice. Each card records the seqs it applied (`data-seqs`) and every seq it
// received (`data-received`), so tests can check exactly that.

import { API_KEY_STORAGE, keepStored } from "/static/stored.js";

const body = document.body;
const UPLOAD_URL = body.dataset.uploadUrl || "/api/invoices";
const SOCKET_PATH = body.dataset.socketPath || "/ws";
const MAX_FILES = Number(body.dataset.maxFiles || 20);
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const PING_EVERY_MS = 20_000;
const PONG_TIMEOUT_MS = 10_000;

const STAGES = {
  upload: "Uploading",
  queued: "Queued",
  fetch: "Reading the file",
  llm_extraction: "Extracting",
  validation: "Validating",
  save: "Saving",
  complete: "Done",
};
const STATUS_LABELS = {
  uploading: "Uploading",
  pending: "Queued",
  processing: "Processing",
  completed: "Completed",
  error: "Failed",
};
const VALIDATION_LABELS = { valid: "Valid", needs_review: "Needs review", invalid: "Invalid" };

const $ = (selector, root = document) => root.querySelector(selector);
const ui = {
  connection: $("#connection"),
  connectionText: $("#connection-text"),
  connectionCountdown: $("#connection-countdown"),
  dropZone: $("#drop-zone"),
  input: $("#file-input"),
  pick: $("#pick-files"),
  autoSave: $("#auto-save"),
  provider: $("#provider"),
  model: $("#model"),
  apiKey: $("#api-key"),
  formMessage: $("#form-message"),
  cards: $("#cards"),
  empty: $("#empty"),
  clearFinished: $("#clear-finished"),
  template: $("#card-template"),
};

// ---------------------------------------------------------------------------------------------
// Items: one per picked file (kept across retries), following one task at a time.

/** @type {Map<string, Item>} task_id -> item */
const following = new Map();
let nextItemId = 1;

class Item {
  constructor(file) {
    this.file = file;
    this.id = `f${nextItemId++}`;
    this.attempt = 0;
    this.taskId = null;
    this.token = null;
    this.lastSeq = 0;
    this.stage = null;
    this.finished = false;
    this.resyncing = false;
    this.applied = [];
    this.received = [];
    this.card = this.render();
  }

  render() {
    const card = ui.template.content.firstElementChild.cloneNode(true);
    card.dataset.fileId = this.id;
    card.dataset.seqs = "";
    card.dataset.received = "";
    const name = this.file.name || "unnamed file";
    $(".filename", card).textContent = name;
    $(".bar", card).setAttribute("aria-label", `Progress of ${name}`);
    $(".retry", card).setAttribute("aria-label", `Retry ${name}`);
    $(".retry", card).addEventListener("click", () => this.retry());
    return card;
  }

  /** A new attempt: a fresh task, so a fresh sequence. */
  reset() {
    this.attempt += 1;
    if (this.taskId) following.delete(this.taskId);
    this.taskId = null;
    this.token = null;
    this.lastSeq = 0;
    this.stage = null;
    this.finished = false;
    this.resyncing = false;
    this.applied = [];
    this.received = [];
    const card = this.card;
    card.dataset.attempt = String(this.attempt);
    card.dataset.seqs = "";
    card.dataset.received = "";
    delete card.dataset.taskId;
    delete card.dataset.errorCode;
    delete card.dataset.validation;
    $(".fields", card).hidden = true;
    $(".validation", card).hidden = true;
    $(".failure", card).hidden = true;
    $(".findings", card).replaceChildren();
    $(".open-invoice", card).hidden = true;
    this.setStatus("uploading");
    this.setProgress(0);
    this.show(STAGES.upload, "");
  }

  setStatus(status) {
    this.card.dataset.status = status;
    $(".status-badge", this.card).textContent = STATUS_LABELS[status] || status;
    updateClearButton();
  }

  setProgress(value) {
    const progress = Math.max(0, Math.min(100, Math.round(Number(value) || 0)));
    const bar = $(".bar", this.card);
    bar.value = progress;
    bar.setAttribute("aria-valuenow", String(progress));
    $(".percent", this.card).textContent = `${progress} %`;
  }

  show(stage, message) {
    $(".stage", this.card).textContent = stage;
    const same = (message || "").trim().toLowerCase() === String(stage).toLowerCase();
    $(".message", this.card).textContent = same ? "" : message || "";
  }

  /** Screen readers hear stage changes and the outcome, not every percent. */
  announce(text) {
    $(".announce", this.card).textContent = `${this.file.name}: ${text}`;
  }

  accepted(task) {
    this.taskId = task.task_id;
    this.token = task.token;
    this.card.dataset.taskId = task.task_id;
    following.set(task.task_id, this);
    this.setStatus("pending");
    this.show(STAGES.queued, "waiting for a worker");
    this.announce("uploaded, waiting for a worker");
    socket.join(this);
  }

  update(data) {
    const seq = Number(data.seq);
    this.received.push(seq);
    this.card.dataset.received = this.received.join(" ");
    if (this.finished || !(seq > this.lastSeq)) return; // already shown
    if (seq !== this.lastSeq + 1) {
      // The contract promises no gaps; if one shows up anyway, ask again from what we have.
      if (!this.resyncing) {
        this.resyncing = true;
        socket.join(this);
      }
      return;
    }
    this.resyncing = false;
    this.lastSeq = seq;
    this.applied.push(seq);
    this.card.dataset.seqs = this.applied.join(" ");
    this.card.dataset.stage = data.stage || "";

    if (typeof data.progress === "number") this.setProgress(data.progress);
    const stageLabel = STAGES[data.stage] || data.stage || "";
    this.show(stageLabel, data.message);

    if (data.type === "complete") {
      this.finish("completed");
      this.setProgress(100);
      this.showResult(data.result || {});
    } else if (data.type === "error") {
      this.show(`Failed while ${stageLabel.toLowerCase() || "processing"}`, ""); // details below
      this.finish("error");
      this.showError(data.error || { code: "error", message: data.message || "failed" });
    } else {
      this.setStatus("processing");
      if (data.stage !== this.stage) {
        this.announce(`${stageLabel}${data.message ? ` — ${data.message}` : ""}`);
      }
    }
    this.stage = data.stage;
  }

  finish(status) {
    this.finished = true;
    this.setStatus(status);
    if (this.taskId) {
      following.delete(this.taskId);
      socket.leave(this.taskId);
    }
  }

  showResult(result) {
    const invoice = result.invoice || {};
    const values = {
      vendor: invoice.vendor && invoice.vendor.name,
      invoice_number: invoice.invoice_number,
      invoice_date: invoice.invoice_date,
      total: invoice.total,
      currency: invoice.currency,
    };
    for (const [field, value] of Object.entries(values)) {
      const cell = $(`[data-field="${field}"]`, this.card);
      cell.textContent = value == null || value === "" ? "—" : String(value);
      cell.classList.toggle("unknown", value == null || value === "");
    }
    $(".fields", this.card).hidden = false;

    const validation = result.validation || {};
    const status = validation.status || "unknown";
    this.card.dataset.validation = status;
    const badge = $(".validation-badge", this.card);
    badge.dataset.validation = status;
    badge.textContent = VALIDATION_LABELS[status] || status;
    const saved = [];
    if (result.saved) saved.push(result.invoice_id ? `saved as ${result.invoice_id}` : "saved");
    else saved.push("not saved");
    if (result.duplicate_of) saved.push(`duplicate of ${result.duplicate_of}`);
    $(".saved", this.card).textContent = `· ${saved.join(" · ")}`;
    const open = $(".open-invoice", this.card);
    open.hidden = !result.invoice_id;
    if (result.invoice_id) {
      open.href = `/invoices/${encodeURIComponent(result.invoice_id)}`;
      open.setAttribute("aria-label", `Open ${this.file.name} for review`);
    }
    const findings = (validation.issues || []).map((issue) => {
      const li = document.createElement("li");
      li.dataset.code = issue.code || "";
      li.dataset.severity = issue.severity || "";
      const severity = document.createElement("span");
      severity.className = "severity";
      severity.textContent = issue.severity || "note";
      const code = document.createElement("code");
      code.textContent = issue.code || "";
      const text = document.createElement("span");
      text.textContent = `${issue.field ? ` ${issue.field}:` : ""} ${issue.message || ""}`;
      li.append(severity, " ", code, text);
      return li;
    });
    $(".findings", this.card).replaceChildren(...findings);
    $(".validation", this.card).hidden = false;

    const total = values.total ? `, total ${values.total}${values.currency ? ` ${values.currency}` : ""}` : "";
    this.announce(`done, ${VALIDATION_LABELS[status] || status}${total}`);
  }

  showError(error) {
    const code = error.code || "error";
    const message = error.message || "";
    this.card.dataset.errorCode = code;
    $(".error-code", this.card).textContent = code;
    $(".error-message", this.card).textContent = message;
    $(".failure", this.card).hidden = false;
    this.announce(`failed: ${code}${message ? ` — ${message}` : ""}`);
  }

  /** Upload failed before a task existed. */
  failUpload(error) {
    this.finished = true;
    this.setStatus("error");
    this.show("Upload failed", "");
    this.showError(error);
  }

  async retry() {
    // The button disappears while the file runs again: keep keyboard focus on the card.
    const hadFocus = this.card.contains(document.activeElement);
    this.reset();
    if (hadFocus) $("article", this.card).focus();
    ui.formMessage.hidden = true;
    await uploadOne(this);
  }
}

function updateClearButton() {
  ui.clearFinished.hidden = !ui.cards.querySelector('.card[data-status="completed"]');
}

// ---------------------------------------------------------------------------------------------
// Uploading.

function currentOptions() {
  const options = { auto_save: ui.autoSave.checked };
  if (ui.provider.value) options.model_provider = ui.provider.value;
  const model = ui.model.value.trim();
  if (model) options.model = model;
  return options;
}

function authHeaders() {
  const key = ui.apiKey.value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** POST the files; returns {ok, status, body}; throws only when the gateway cannot be reached. */
async function post(files, options) {
  const form = new FormData();
  for (const file of files) form.append("file", file, file.name);
  form.append("options", JSON.stringify(options));
  const response = await fetch(UPLOAD_URL, { method: "POST", body: form, headers: authHeaders() });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  return { ok: response.ok, status: response.status, body: answer };
}

function errorOf(result) {
  const error = result.body && result.body.error;
  if (error && error.code) {
    if (result.status === 401) {
      return { code: error.code, message: `${error.message} — set the API key under Options.` };
    }
    return error;
  }
  return { code: `http_${result.status}`, message: `the gateway answered ${result.status}` };
}

function unreachable(exc) {
  return { code: "network_error", message: `could not reach the gateway (${exc.message || exc})` };
}

async function uploadOne(item) {
  try {
    const result = await post([item.file], currentOptions());
    if (result.ok && result.body && result.body.tasks && result.body.tasks[0]) {
      item.accepted(result.body.tasks[0]);
    } else {
      item.failUpload(errorOf(result));
    }
  } catch (exc) {
    item.failUpload(unreachable(exc));
  }
}

// Errors that concern one file of a batch: upload the files one by one, so only that one fails.
const PER_FILE_ERRORS = new Set(["file_too_large", "unsupported_media_type"]);

async function uploadBatch(fileList) {
  const files = Array.from(fileList || []);
  if (files.length === 0) return;
  if (files.length > MAX_FILES) {
    showFormMessage(
      `You chose ${files.length} files, but a batch holds at most ${MAX_FILES}. ` +
        `Nothing was uploaded: choose ${MAX_FILES} or fewer and try again.`,
    );
    return;
  }
  ui.formMessage.hidden = true;
  const items = files.map((file) => new Item(file));
  for (const item of items) item.reset();
  ui.cards.prepend(...items.map((item) => item.card)); // newest batch first, in picked order
  ui.empty.hidden = true;
  let result;
  try {
    result = await post(files, currentOptions());
  } catch (exc) {
    for (const item of items) item.failUpload(unreachable(exc));
    return;
  }
  const tasks = (result.ok && result.body && result.body.tasks) || null;
  if (tasks && tasks.length === items.length) {
    items.forEach((item, index) => item.accepted(tasks[index]));
    return;
  }
  const error = errorOf(result);
  if (items.length > 1 && PER_FILE_ERRORS.has(error.code)) {
    await Promise.all(items.map((item) => uploadOne(item)));
    return;
  }
  for (const item of items) item.failUpload(error);
  if (error.code === "too_many_files") showFormMessage(`${error.message}.`);
}

function showFormMessage(text) {
  ui.formMessage.textContent = text;
  ui.formMessage.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// The live socket: reconnects with exponential backoff and jitter, re-joins on every connect.

class LiveSocket {
  constructor() {
    this.ws = null;
    this.ready = false; // the gateway said `connected`
    this.failures = 0;
    this.retryTimer = null;
    this.countdownTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.generation = 0;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${SOCKET_PATH}`;
  }

  connect() {
    this.clearTimers();
    if (navigator.onLine === false) return this.setState("offline", "Live updates: offline — waiting for the network");
    if (this.failures) this.setState("reconnecting", "Live updates: reconnecting", "…");
    else this.setState("connecting", "Live updates: connecting…");
    const generation = ++this.generation;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return undefined;
    }
    this.ws = ws;
    ws.addEventListener("message", (event) => generation === this.generation && this.onFrame(event.data));
    ws.addEventListener("close", () => generation === this.generation && this.onClose());
    return undefined;
  }

  onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    this.armPong();
    const data = frame.data || {};
    switch (frame.event) {
      case "connected":
        this.ready = true;
        this.failures = 0;
        this.setState("connected", "Live updates: connected");
        this.startPings();
        for (const item of following.values()) this.join(item);
        break;
      case "task_update": {
        const item = following.get(data.task_id);
        if (item) item.update(data);
        break;
      }
      case "error":
        this.onError(data);
        break;
      default: // joined_task, left_task, pong
        break;
    }
  }

  onError(error) {
    const match = /task_[0-9a-f]{32}/.exec(error.message || "");
    const item = match && following.get(match[0]);
    if (item && (error.code === "task_not_found" || error.code === "invalid_token")) {
      item.finish("error");
      item.showError(error);
    } else if (error.code === "unavailable") {
      // The broker hiccuped while we joined: join again shortly (after_seq keeps it exact).
      setTimeout(() => {
        for (const each of following.values()) this.join(each);
      }, 2000);
    } else {
      console.warn("gateway:", error.code, error.message);
    }
  }

  onClose() {
    this.ready = false;
    this.ws = null;
    this.failures += 1;
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.clearTimers();
    if (navigator.onLine === false) {
      this.setState("offline", "Live updates: offline — waiting for the network");
      return;
    }
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, this.failures - 1));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
    const due = Date.now() + delay;
    // Screen readers hear "reconnecting" once; the countdown is for the eyes only.
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      this.setState("reconnecting", "Live updates: reconnecting", ` in ${seconds} s…`);
    };
    tick();
    this.countdownTimer = setInterval(tick, 250);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  startPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.send("ping", {}), PING_EVERY_MS);
  }

  /** No frame at all for ping interval + timeout: the socket is dead even if it looks open. */
  armPong() {
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => this.ws && this.ws.close(), PING_EVERY_MS + PONG_TIMEOUT_MS);
  }

  clearTimers() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdownTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  send(event, data) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ event, data }));
    return true;
  }

  join(item) {
    if (item.finished || !item.taskId) return;
    this.send("join_task", { task_id: item.taskId, token: item.token, after_seq: item.lastSeq });
  }

  leave(taskId) {
    this.send("leave_task", { task_id: taskId });
  }

  setState(state, text, countdown = "") {
    ui.connection.dataset.state = state;
    if (ui.connectionText.textContent !== text) ui.connectionText.textContent = text;
    ui.connectionCountdown.textContent = countdown;
  }

  online() {
    if (!this.ready) {
      this.failures = 0;
      this.connect();
    }
  }

  offline() {
    this.clearTimers();
    if (this.ws) this.ws.close();
    this.setState("offline", "Live updates: offline — waiting for the network");
  }
}

const socket = new LiveSocket();

// ---------------------------------------------------------------------------------------------
// Wiring.

ui.pick.addEventListener("click", () => ui.input.click());
ui.input.addEventListener("change", () => {
  const files = Array.from(ui.input.files || []);
  ui.input.value = ""; // picking the same files again fires `change` again
  uploadBatch(files);
});

for (const type of ["dragenter", "dragover"]) {
  ui.dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    ui.dropZone.classList.add("dragging");
  });
}
ui.dropZone.addEventListener("dragleave", (event) => {
  if (!ui.dropZone.contains(event.relatedTarget)) ui.dropZone.classList.remove("dragging");
});
ui.dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  ui.dropZone.classList.remove("dragging");
  uploadBatch(event.dataTransfer && event.dataTransfer.files);
});
// A file dropped beside the zone must not make the browser navigate away from the page.
for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => {
    if (!ui.dropZone.contains(event.target)) event.preventDefault();
  });
}

ui.clearFinished.addEventListener("click", () => {
  for (const card of ui.cards.querySelectorAll('.card[data-status="completed"]')) card.remove();
  ui.empty.hidden = ui.cards.children.length > 0;
  updateClearButton();
  ui.pick.focus();
});

keepStored(ui.apiKey, () => sessionStorage, API_KEY_STORAGE);

window.addEventListener("online", () => socket.online());
window.addEventListener("offline", () => socket.offline());

socket.connect();
