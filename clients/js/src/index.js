// invoiceflow JS client: HTTP calls, one live WebSocket with resume, and a per-file store.
// No runtime dependencies; runs in browsers and in Node 20+ (pass `WebSocket` there, or run
// Node with --experimental-websocket). Protocol: docs/protocol.md (contract: spec api.md).

const DEFAULT_RECONNECT = { initialDelayMs: 500, maxDelayMs: 10_000, jitter: 0.5 };
const DEFAULT_PING_INTERVAL_MS = 20_000;
const DEFAULT_PONG_TIMEOUT_MS = 10_000;
const UNAVAILABLE_REJOIN_MS = 2_000;
const MAX_BATCH = 20;
const TASK_ID = /task_[0-9a-f]{32}/;
/** Codes that concern one file of a batch: the store then submits the files one by one. */
const PER_FILE_ERRORS = new Set(["file_too_large", "unsupported_media_type", "validation_error"]);

// -------------------------------------------------------------------------------------------
// Errors

export class InvoiceflowError extends Error {
  /**
   * @param {number} status HTTP status (0 when the gateway could not be reached)
   * @param {string} code the `error.code` of the body, or `http_<status>` / `network_error`
   * @param {string} message
   * @param {unknown} [body]
   */
  constructor(status, code, message, body) {
    super(message);
    this.name = "InvoiceflowError";
    this.status = status;
    this.code = code;
    this.body = body === undefined ? null : body;
  }

  /** `{code, message}`, the shape of a file's `error`. */
  toJSON() {
    return { code: this.code, message: this.message };
  }
}

/** Any thrown value as `{code, message}`. */
export function toErrorInfo(error) {
  if (error instanceof InvoiceflowError) return { code: error.code, message: error.message };
  if (error && typeof error === "object" && typeof error.code === "string") {
    return { code: error.code, message: String(error.message ?? error.code) };
  }
  return { code: "client_error", message: String((error && error.message) || error) };
}

// -------------------------------------------------------------------------------------------
// HTTP

function defaultBaseUrl() {
  const location = globalThis.location;
  return location && location.origin && location.origin !== "null" ? location.origin : "";
}

function isBlobLike(value) {
  return typeof Blob !== "undefined" && value instanceof Blob;
}

function asBlob(file) {
  if (isBlobLike(file)) return file;
  if (file instanceof ArrayBuffer || ArrayBuffer.isView(file)) return new Blob([file]);
  throw new TypeError("a file must be a File, Blob, ArrayBuffer or typed array");
}

function fileName(file, fallback = "file") {
  return (file && typeof file.name === "string" && file.name) || fallback;
}

export class InvoiceflowClient {
  /** @param {import("./index.js").ClientOptions} [options] */
  constructor(options = {}) {
    const base = options.baseUrl ?? defaultBaseUrl();
    this.baseUrl = String(base).replace(/\/+$/, "");
    this.apiKey = options.apiKey ?? null;
    this.WebSocket = options.WebSocket ?? null;
    this.fetchImpl = options.fetch ?? null;
    this.wsUrl = options.wsUrl ?? null;
    this.reconnect = { ...DEFAULT_RECONNECT, ...(options.reconnect || {}) };
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.pongTimeoutMs = options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
    /** @type {LiveConnection | null} */
    this.connection = null;
  }

  url(path) {
    return `${this.baseUrl}${path}`;
  }

  /** The WebSocket URL: `wsUrl`, else `baseUrl` with ws(s):, else this page's origin. */
  socketUrl() {
    if (this.wsUrl) return this.wsUrl;
    let origin = this.baseUrl;
    if (!/^https?:\/\//i.test(origin)) {
      const location = globalThis.location;
      if (!location || !location.host) {
        throw new TypeError("a baseUrl (http://host:port) is needed outside a browser");
      }
      origin = `${location.protocol}//${location.host}${origin}`;
    }
    return `${origin.replace(/^http/i, "ws")}/ws`;
  }

  headers(extra = {}) {
    const headers = { Accept: "application/json", ...extra };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    return headers;
  }

  /**
   * One call; the parsed JSON body, or an InvoiceflowError.
   * @param {string} method
   * @param {string} path
   * @param {{json?: unknown, form?: FormData, query?: Record<string, unknown>, signal?: AbortSignal}} [init]
   */
  async request(method, path, init = {}) {
    let url = this.url(path);
    if (init.query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(init.query)) {
        if (value !== undefined && value !== null) params.append(key, String(value));
      }
      const text = params.toString();
      if (text) url += `?${text}`;
    }
    const headers = this.headers(init.json !== undefined ? { "Content-Type": "application/json" } : {});
    const body = init.json !== undefined ? JSON.stringify(init.json) : init.form;
    const fetchImpl = this.fetchImpl ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") throw new TypeError("no fetch available: pass options.fetch");
    let response;
    try {
      response = await fetchImpl(url, { method, headers, body, signal: init.signal });
    } catch (exc) {
      if (exc && exc.name === "AbortError") throw exc;
      throw new InvoiceflowError(0, "network_error", `could not reach the gateway (${(exc && exc.message) || exc})`);
    }
    let payload = null;
    const text = await response.text();
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = null;
      }
    }
    if (!response.ok) {
      const error = payload && payload.error;
      if (error && typeof error.code === "string") {
        throw new InvoiceflowError(response.status, error.code, String(error.message ?? error.code), payload);
      }
      throw new InvoiceflowError(response.status, `http_${response.status}`, `the gateway answered ${response.status}`, payload ?? text);
    }
    return payload;
  }

  health() {
    return this.request("GET", "/api/health");
  }

  /** POST /api/upload, once per file. One file → one blob; an array → an array. */
  async upload(files, options = {}) {
    if (Array.isArray(files)) return Promise.all(files.map((file) => this.upload(file)));
    const form = new FormData();
    form.append("file", asBlob(files), options.filename ?? fileName(files));
    return this.request("POST", "/api/upload", { form, signal: options.signal });
  }

  /** POST /api/invoices/upload: process one uploaded blob. */
  trigger(blobUrl, filename, options) {
    const json = { blob_url: blobUrl };
    if (filename != null) json.filename = filename;
    if (options != null) json.options = options;
    return this.request("POST", "/api/invoices/upload", { json });
  }

  /** POST /api/invoices/batch: process several uploaded blobs. */
  triggerBatch(files, options) {
    const json = { files: files.map(({ blob_url, filename }) => (filename == null ? { blob_url } : { blob_url, filename })) };
    if (options != null) json.options = options;
    return this.request("POST", "/api/invoices/batch", { json });
  }

  /** POST /api/invoices: upload and process in one multipart call. */
  submit(files, options) {
    const list = Array.isArray(files) ? files : [files];
    const form = new FormData();
    for (const file of list) form.append("file", asBlob(file), fileName(file));
    if (options != null) form.append("options", JSON.stringify(options));
    return this.request("POST", "/api/invoices", { form });
  }

  /** GET /api/invoices/status/{task_id}[?token=]. */
  status(taskId, token) {
    return this.request("GET", `/api/invoices/status/${encodeURIComponent(taskId)}`, {
      query: token ? { token } : undefined,
    });
  }

  /** GET /api/invoices: saved invoices, `{items, next_cursor}`. */
  invoices(query = {}) {
    return this.request("GET", "/api/invoices", { query });
  }

  /** GET /api/invoices/{invoice_id}. */
  invoice(invoiceId) {
    return this.request("GET", `/api/invoices/${encodeURIComponent(invoiceId)}`);
  }

  /** The client's one live connection, opened (or kept open). */
  connect() {
    if (!this.connection) this.connection = new LiveConnection(this);
    this.connection.connect();
    return this.connection;
  }

  /** Close the live connection (it may be opened again with connect()). */
  close() {
    if (this.connection) this.connection.close();
  }
}

/** @param {import("./index.js").ClientOptions} [options] */
export function createClient(options) {
  return new InvoiceflowClient(options);
}

// -------------------------------------------------------------------------------------------
// Live connection

class Emitter {
  constructor() {
    this.listeners = new Map();
  }

  on(event, listener) {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit(event, data) {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(data);
      } catch (exc) {
        queueMicrotask(() => {
          throw exc;
        });
      }
    }
  }
}

/**
 * One WebSocket to `/ws` following any number of tasks. Remembers the last seq of every task;
 * after any drop it reconnects with capped exponential backoff and jitter, and re-joins every
 * unfinished task with `after_seq` = that seq. Updates with seq <= the last one are dropped.
 */
export class LiveConnection {
  /** @param {InvoiceflowClient} client */
  constructor(client) {
    this.client = client;
    this.emitter = new Emitter();
    /** @type {Map<string, {token: string, lastSeq: number, finished: boolean, resyncing: boolean}>} */
    this.tasks = new Map();
    this.ws = null;
    this.state = "idle"; // idle | connecting | connected | reconnecting | closed
    this.failures = 0;
    this.wanted = false;
    this.generation = 0;
    this.timers = { retry: null, ping: null, pong: null, rejoin: null };
  }

  get isConnected() {
    return this.state === "connected";
  }

  on(event, listener) {
    return this.emitter.on(event, listener);
  }

  /** Called with `{state, isConnected}` on every change of state. */
  subscribe(listener) {
    return this.on("state", listener);
  }

  lastSeq(taskId) {
    const task = this.tasks.get(taskId);
    return task ? task.lastSeq : 0;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emitter.emit("state", { state, isConnected: this.isConnected });
  }

  connect() {
    this.wanted = true;
    if (this.ws || this.timers.retry) return this;
    this.open();
    return this;
  }

  close() {
    this.wanted = false;
    this.generation += 1;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.failures = 0;
    if (ws) {
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
    this.setState("closed");
  }

  open() {
    const Impl = this.client.WebSocket ?? globalThis.WebSocket;
    if (typeof Impl !== "function") {
      throw new TypeError(
        "no WebSocket available: pass options.WebSocket (e.g. from the `ws` package) or run Node with --experimental-websocket",
      );
    }
    this.setState(this.failures ? "reconnecting" : "connecting");
    const generation = ++this.generation;
    let ws;
    try {
      ws = new Impl(this.client.socketUrl());
    } catch (exc) {
      this.emitter.emit("error", { code: "connect_failed", message: String((exc && exc.message) || exc) });
      this.dropped();
      return;
    }
    this.ws = ws;
    const current = () => generation === this.generation;
    ws.addEventListener("message", (event) => current() && this.onFrame(event.data));
    ws.addEventListener("close", () => current() && this.dropped());
  }

  /** The socket is gone (closed, refused, timed out): come back after a backoff. */
  dropped() {
    this.ws = null;
    this.clearTimers();
    if (!this.wanted) return;
    this.failures += 1;
    this.setState("reconnecting");
    const { initialDelayMs, maxDelayMs, jitter } = this.client.reconnect;
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** (this.failures - 1));
    const delay = ceiling * (1 - Math.min(1, Math.max(0, jitter)) * this.client.random());
    this.emitter.emit("reconnecting", { attempt: this.failures, delayMs: delay });
    this.timers.retry = setTimeout(() => {
      this.timers.retry = null;
      if (this.wanted) this.open();
    }, delay);
  }

  clearTimers() {
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.rejoin);
    this.timers = { retry: null, ping: null, pong: null, rejoin: null };
  }

  /** No frame for ping interval + pong timeout: the socket is dead even if it looks open. */
  armPong() {
    const { pingIntervalMs, pongTimeoutMs } = this.client;
    if (!pingIntervalMs) return;
    clearTimeout(this.timers.pong);
    this.timers.pong = setTimeout(() => {
      const ws = this.ws;
      this.generation += 1; // ignore whatever that socket still says
      if (ws) {
        try {
          ws.close(4000);
        } catch {
          // ignore
        }
      }
      this.dropped();
    }, pingIntervalMs + pongTimeoutMs);
  }

  onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(typeof text === "string" ? text : String(text));
    } catch {
      return;
    }
    if (!frame || typeof frame.event !== "string") return;
    this.armPong();
    const data = frame.data && typeof frame.data === "object" ? frame.data : {};
    switch (frame.event) {
      case "connected":
        this.failures = 0;
        this.setState("connected");
        if (this.client.pingIntervalMs) {
          clearInterval(this.timers.ping);
          this.timers.ping = setInterval(() => this.send("ping", {}), this.client.pingIntervalMs);
        }
        this.emitter.emit("connected", data);
        for (const taskId of this.tasks.keys()) this.sendJoin(taskId);
        break;
      case "task_update":
        this.onUpdate(data);
        break;
      case "error":
        this.onError(data);
        break;
      default: // joined_task, left_task, pong, and events added later
        this.emitter.emit(frame.event, data);
    }
  }

  onUpdate(data) {
    const task = this.tasks.get(data.task_id);
    const seq = Number(data.seq);
    if (!task || task.finished || !Number.isInteger(seq) || seq <= task.lastSeq) return;
    if (seq !== task.lastSeq + 1) {
      // The contract promises no gaps; should one appear, ask again from what we have.
      if (!task.resyncing) {
        task.resyncing = true;
        this.sendJoin(data.task_id);
      }
      return;
    }
    task.resyncing = false;
    task.lastSeq = seq;
    if (data.type === "complete" || data.type === "error") {
      task.finished = true;
      this.send("leave_task", { task_id: data.task_id });
    }
    this.emitter.emit("task_update", data);
  }

  onError(error) {
    const match = TASK_ID.exec(String(error.message || ""));
    const taskId = match && this.tasks.has(match[0]) ? match[0] : null;
    if (taskId && (error.code === "task_not_found" || error.code === "invalid_token")) {
      const task = this.tasks.get(taskId);
      task.finished = true;
      this.emitter.emit("task_error", { task_id: taskId, code: error.code, message: error.message });
    } else if (error.code === "unavailable" && !this.timers.rejoin) {
      // The broker hiccuped while we joined: join again shortly (after_seq keeps it exact).
      this.timers.rejoin = setTimeout(() => {
        this.timers.rejoin = null;
        for (const id of this.tasks.keys()) this.sendJoin(id);
      }, UNAVAILABLE_REJOIN_MS);
    }
    this.emitter.emit("error", error);
  }

  send(event, data) {
    const ws = this.ws;
    if (!ws || this.state !== "connected" || ws.readyState !== 1) return false;
    ws.send(JSON.stringify({ event, data }));
    return true;
  }

  sendJoin(taskId) {
    const task = this.tasks.get(taskId);
    if (!task || task.finished) return false;
    return this.send("join_task", { task_id: taskId, token: task.token, after_seq: task.lastSeq });
  }

  /**
   * Follow a task. Updates with seq <= afterSeq (default: the last seen, else 0) are not shown.
   * Opens the connection when it is not open yet.
   */
  join(taskId, token, options = {}) {
    const known = this.tasks.get(taskId);
    const lastSeq = options.afterSeq ?? (known ? known.lastSeq : 0);
    this.tasks.set(taskId, { token, lastSeq, finished: false, resyncing: false });
    this.connect();
    this.sendJoin(taskId);
  }

  /** Stop following a task (and forget its seq). */
  leave(taskId) {
    const task = this.tasks.get(taskId);
    this.tasks.delete(taskId);
    if (task && !task.finished) this.send("leave_task", { task_id: taskId });
  }
}

// -------------------------------------------------------------------------------------------
// The store: per-file state for UIs (the old stack's useAsyncProcessing fields, exactly)

let localIds = 0;

function freezeFile(file) {
  return Object.freeze(file);
}

function newFile(taskId, filename, status = "pending", error = null) {
  return freezeFile({
    task_id: taskId,
    filename,
    status,
    progress: 0,
    stage: null,
    updates: Object.freeze([]),
    result: null,
    error,
  });
}

function isBlobRef(value) {
  return value != null && typeof value === "object" && typeof value.blob_url === "string";
}

function sourceName(source, index = 0) {
  if (isBlobRef(source)) {
    if (source.filename) return source.filename;
    const last = source.blob_url.split(/[?#]/)[0].split("/").filter(Boolean).pop();
    return last || `file-${index + 1}`;
  }
  return fileName(source, `file-${index + 1}`);
}

function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * @param {InvoiceflowClient} client
 * @param {{processingOptions?: object, maxBatch?: number}} [settings]
 */
export function createProcessingStore(client, settings = {}) {
  const maxBatch = settings.maxBatch ?? MAX_BATCH;
  const defaultOptions = settings.processingOptions;
  /** @type {Map<string, {file: object, source: unknown, options: unknown, token: string | null}>} */
  let entries = new Map();
  let isConnected = false;
  let generation = 0;
  let connection = null;
  const listeners = new Set();
  let snapshot = null;

  function changed() {
    snapshot = null;
    for (const listener of [...listeners]) listener();
  }

  function getSnapshot() {
    if (!snapshot) {
      const files = Object.freeze([...entries.values()].map((entry) => entry.file));
      const filesMap = {};
      for (const file of files) filesMap[file.task_id] = file;
      snapshot = Object.freeze({ isConnected, files, filesMap: Object.freeze(filesMap) });
    }
    return snapshot;
  }

  function subscribe(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  function ensureConnection() {
    if (!connection) {
      connection = client.connection ?? new LiveConnection(client);
      client.connection = connection;
      connection.subscribe(({ isConnected: now }) => {
        if (now !== isConnected) {
          isConnected = now;
          changed();
        }
      });
      connection.on("task_update", onUpdate);
      connection.on("task_error", ({ task_id, code, message }) => fail(task_id, { code, message }));
    }
    connection.connect();
    if (connection.isConnected !== isConnected) {
      isConnected = connection.isConnected;
      changed();
    }
    return connection;
  }

  function patch(taskId, fields) {
    const entry = entries.get(taskId);
    if (!entry) return;
    entry.file = freezeFile({ ...entry.file, ...fields });
    changed();
  }

  function fail(taskId, error) {
    const entry = entries.get(taskId);
    if (!entry || entry.file.status === "completed" || entry.file.status === "error") return;
    patch(taskId, { status: "error", error });
  }

  function onUpdate(data) {
    const entry = entries.get(data.task_id);
    if (!entry) return;
    const file = entry.file;
    const last = file.updates.length ? file.updates[file.updates.length - 1].seq : 0;
    if (!(data.seq > last) || file.status === "completed" || file.status === "error") return;
    const update = Object.freeze({ ...data });
    const fields = {
      updates: Object.freeze([...file.updates, update]),
      stage: data.stage ?? file.stage,
      progress: typeof data.progress === "number" ? Math.max(file.progress, Math.min(100, data.progress)) : file.progress,
      status: "processing",
    };
    if (data.type === "complete") {
      Object.assign(fields, { status: "completed", progress: 100, result: data.result ?? null });
    } else if (data.type === "error") {
      fields.status = "error";
      fields.error = data.error ?? { code: "error", message: data.message || "processing failed" };
    }
    patch(data.task_id, fields);
  }

  /** A new file; `replace` (a retry) puts it where that one was. */
  function add(taskId, file, source, options, token, replace) {
    const entry = { file, source, options, token };
    if (replace && entries.has(replace)) {
      entries = new Map([...entries].map(([key, value]) => (key === replace ? [taskId, entry] : [key, value])));
    } else {
      entries.set(taskId, entry);
    }
    changed();
  }

  /** An outcome of a start call becomes a file: a joined pending task, or an error. */
  function apply(outcome, options, replace) {
    const { source, task, error, index } = outcome;
    if (task) {
      const file = newFile(task.task_id, task.filename ?? sourceName(source, index), "pending");
      add(task.task_id, file, source, options, task.token, replace);
      ensureConnection().join(task.task_id, task.token, { afterSeq: 0 });
      return task.task_id;
    }
    // A file that got no task: an `error` file with a local id (`local_<n>`).
    const id = `local_${++localIds}`;
    add(id, newFile(id, sourceName(source, index), "error", toErrorInfo(error)), source, options, null, replace);
    return id;
  }

  /**
   * Send one group of same-kind sources (all Files or all blob refs); never throws.
   * @returns {Promise<Array<{source: unknown, index: number, task?: object, error?: unknown}>>}
   */
  async function send(group, options) {
    const sources = group.map((g) => g.source);
    let answer = null;
    let error = null;
    try {
      answer = isBlobRef(sources[0])
        ? await client.triggerBatch(sources.map((s, i) => ({ blob_url: s.blob_url, filename: sourceName(s, group[i].index) })), options)
        : await client.submit(sources, options);
    } catch (exc) {
      error = exc;
    }
    if (answer && Array.isArray(answer.tasks) && answer.tasks.length === sources.length) {
      return group.map((g, i) => ({ ...g, task: answer.tasks[i] }));
    }
    if (answer) error = new InvoiceflowError(0, "bad_response", "the gateway answered with an unexpected body", answer);
    if (group.length > 1 && error instanceof InvoiceflowError && PER_FILE_ERRORS.has(error.code)) {
      // One file spoiled the batch: send them one by one so only that one fails.
      return (await Promise.all(group.map((g) => send([g], options)))).flat();
    }
    return group.map((g) => ({ ...g, error }));
  }

  async function startAll(sources, options) {
    const at = generation;
    ensureConnection();
    // Files and blob refs go to different endpoints, at most maxBatch per request.
    const files = [];
    const refs = [];
    sources.forEach((source, index) => (isBlobRef(source) ? refs : files).push({ source, index }));
    const groups = [...chunks(files, maxBatch), ...chunks(refs, maxBatch)];
    const outcomes = (await Promise.all(groups.map((group) => send(group, options)))).flat();
    if (at !== generation) return []; // reset meanwhile
    outcomes.sort((x, y) => x.index - y.index);
    return outcomes.map((outcome) => entries.get(apply(outcome, options)).file);
  }

  function resolveOptions(options) {
    return options === undefined ? defaultOptions : options;
  }

  async function startBatchProcessing(files, options) {
    const list = Array.from(files || []);
    if (list.length === 0) return [];
    return startAll(list, resolveOptions(options));
  }

  async function startSingleProcessing(file, options) {
    const [one] = await startAll([file], resolveOptions(options));
    return one;
  }

  /** Start a failed file again (same File or blob URL, same options), in the same place. */
  function retry(taskId) {
    const entry = entries.get(taskId);
    if (!entry) return Promise.reject(new InvoiceflowError(0, "unknown_file", `no file ${taskId} in this store`));
    if (entry.file.status !== "error") return Promise.resolve(entry.file);
    // A second click while the first retry is on its way gets the same answer.
    entry.retrying ??= resubmit(taskId, entry).finally(() => (entry.retrying = null));
    return entry.retrying;
  }

  async function resubmit(taskId, entry) {
    const at = generation;
    ensureConnection();
    const [outcome] = await send([{ source: entry.source, index: 0 }], entry.options);
    if (at !== generation || entries.get(taskId) !== entry) return entries.get(taskId)?.file ?? null;
    const id = apply(outcome, entry.options, taskId);
    if (connection) connection.leave(taskId);
    return entries.get(id).file;
  }

  /** Leave every task and forget every file. */
  function resetProcessing() {
    generation += 1;
    if (connection) for (const taskId of entries.keys()) connection.leave(taskId);
    entries = new Map();
    changed();
  }

  /** Open (or keep open) the live connection. */
  function connect() {
    ensureConnection();
  }

  /** Close the live connection; files stay, and connect() follows them again from their seq. */
  function disconnect() {
    if (connection) connection.close();
  }

  return {
    client,
    subscribe,
    getSnapshot,
    startBatchProcessing,
    startSingleProcessing,
    retry,
    resetProcessing,
    connect,
    disconnect,
  };
}
