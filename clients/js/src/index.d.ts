// Types of @invoiceflow/client (hand-written; the runtime is src/index.js).

export type TaskStatus = "pending" | "processing" | "completed" | "error";
export type UpdateType = "stage_start" | "progress" | "stage_complete" | "error" | "complete";

export interface ErrorInfo {
  code: string;
  message: string;
}

export interface ProcessingOptions {
  auto_save?: boolean;
  confidence_threshold?: number;
  model_provider?: "local" | "openai";
  model?: string;
}

export interface UploadedBlob {
  blob_url: string;
  blob_id: string;
  filename: string;
  size: number;
  content_type: string;
  sha256: string;
}

export interface BlobRef {
  blob_url: string;
  filename?: string;
}

export interface TriggeredTask {
  task_id: string;
  websocket_room: string;
  token: string;
  status: "pending";
}

export interface BatchTask {
  task_id: string;
  websocket_room: string;
  token: string;
  filename: string;
  status: TaskStatus;
}

export interface BatchResponse {
  tasks: BatchTask[];
}

export interface ValidationIssue {
  code: string;
  field: string | null;
  message: string;
  severity: "error" | "warning";
}

export interface TaskResult {
  invoice: Record<string, unknown>;
  confidence: Record<string, number>;
  validation: { status: "valid" | "needs_review" | "invalid"; issues: ValidationIssue[] };
  saved: boolean;
  invoice_id: string | null;
  duplicate_of: string | null;
  provider: string;
  usage: { input_tokens: number; output_tokens: number };
  /** Where each value was read (spec 6); for an e-invoice `text` is the element's XPath. */
  evidence: Record<string, { page: number; bbox: [number, number, number, number] | null; text: string }>;
  /** Set when the invoice was read from a structured e-invoice (spec 6). */
  einvoice: {
    syntax: "UBL" | "CII";
    specification: string | null;
    embedded: boolean;
    issues: ValidationIssue[];
  } | null;
}

export interface TaskUpdate {
  type: UpdateType;
  task_id: string;
  seq: number;
  progress: number;
  stage: string;
  message: string;
  timestamp: number;
  result?: TaskResult;
  error?: ErrorInfo;
  [extra: string]: unknown;
}

export interface TaskStatusResponse {
  task_id: string;
  filename: string;
  status: TaskStatus;
  stage: string | null;
  progress: number;
  message: string | null;
  result: TaskResult | null;
  error: ErrorInfo | null;
  updated_at: string | null;
}

export interface InvoiceQuery {
  limit?: number;
  cursor?: string;
  status?: string;
  vendor?: string;
  date_from?: string;
  date_to?: string;
  duplicate?: boolean;
  [extra: string]: string | number | boolean | undefined | null;
}

export interface InvoiceList {
  items: Array<Record<string, unknown>>;
  next_cursor: string | null;
}

/** Anything a file can be sent as. */
export type FileInput = Blob | ArrayBuffer | ArrayBufferView;

export interface ReconnectOptions {
  /** First delay after a drop (default 500 ms); doubles on every failed attempt. */
  initialDelayMs?: number;
  /** Cap of the delay (default 10 000 ms). */
  maxDelayMs?: number;
  /** Fraction of the delay taken off at random, 0–1 (default 0.5: "equal jitter"). */
  jitter?: number;
}

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close" | "open" | "error", listener: (event: unknown) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** Gateway origin, e.g. "http://localhost:8000". Default: this page's origin ("" outside a browser). */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <key>` on HTTP calls. */
  apiKey?: string | null;
  /** WebSocket class; default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** fetch implementation; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Explicit WebSocket URL; default `baseUrl` with ws(s): and `/ws`. */
  wsUrl?: string;
  reconnect?: ReconnectOptions;
  /** `ping` every this many ms while connected (default 20 000; 0 turns pings and the dead-socket check off). */
  pingIntervalMs?: number;
  /** A socket silent for pingIntervalMs + this is closed and reconnected (default 10 000). */
  pongTimeoutMs?: number;
  /** Random source for the jitter (default Math.random). */
  random?: () => number;
}

export class InvoiceflowError extends Error {
  constructor(status: number, code: string, message: string, body?: unknown);
  readonly name: "InvoiceflowError";
  /** HTTP status; 0 when the gateway could not be reached or answered nonsense. */
  readonly status: number;
  /** `error.code` of the body, else `http_<status>` or `network_error`. */
  readonly code: string;
  readonly body: unknown;
  toJSON(): ErrorInfo;
}

export function toErrorInfo(error: unknown): ErrorInfo;

export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

export interface ConnectionEvents {
  state: { state: ConnectionState; isConnected: boolean };
  connected: { sid: string };
  reconnecting: { attempt: number; delayMs: number };
  task_update: TaskUpdate;
  /** A join refused for one task (`task_not_found`, `invalid_token`); the task is given up. */
  task_error: { task_id: string; code: string; message: string };
  error: ErrorInfo;
  joined_task: { task_id: string };
  left_task: { task_id: string };
  pong: Record<string, never>;
}

export class LiveConnection {
  constructor(client: InvoiceflowClient);
  readonly client: InvoiceflowClient;
  readonly state: ConnectionState;
  readonly isConnected: boolean;
  connect(): this;
  close(): void;
  /** Follow a task; updates with seq <= afterSeq (default: last seen, else 0) are skipped. */
  join(taskId: string, token: string, options?: { afterSeq?: number }): void;
  leave(taskId: string): void;
  /** The last seq delivered for the task (0 if none). */
  lastSeq(taskId: string): number;
  on<E extends keyof ConnectionEvents>(event: E, listener: (data: ConnectionEvents[E]) => void): () => void;
  subscribe(listener: (data: ConnectionEvents["state"]) => void): () => void;
}

export class InvoiceflowClient {
  constructor(options?: ClientOptions);
  readonly baseUrl: string;
  apiKey: string | null;
  /** The live connection once connect() was called (shared by stores on this client). */
  connection: LiveConnection | null;
  url(path: string): string;
  socketUrl(): string;
  request<T = unknown>(
    method: string,
    path: string,
    init?: { json?: unknown; form?: FormData; query?: Record<string, unknown>; signal?: AbortSignal },
  ): Promise<T>;
  health(): Promise<{ status: string; nats: string; version: string }>;
  upload(file: FileInput, options?: { filename?: string; signal?: AbortSignal }): Promise<UploadedBlob>;
  upload(files: FileInput[]): Promise<UploadedBlob[]>;
  trigger(blobUrl: string, filename?: string | null, options?: ProcessingOptions): Promise<TriggeredTask>;
  triggerBatch(files: BlobRef[], options?: ProcessingOptions): Promise<BatchResponse>;
  submit(files: FileInput | FileInput[], options?: ProcessingOptions): Promise<BatchResponse>;
  status(taskId: string, token?: string): Promise<TaskStatusResponse>;
  invoices(query?: InvoiceQuery): Promise<InvoiceList>;
  invoice(invoiceId: string): Promise<Record<string, unknown>>;
  /** Open (or keep open) the client's one live connection. */
  connect(): LiveConnection;
  close(): void;
}

export function createClient(options?: ClientOptions): InvoiceflowClient;

/** One file's state, exactly the fields of the old stack's hook. */
export interface ProcessingFile {
  /** The task id; `local_<n>` for a file that never got a task (its upload failed). */
  readonly task_id: string;
  readonly filename: string;
  readonly status: TaskStatus;
  /** 0–100, never going backwards; 100 once completed. */
  readonly progress: number;
  /** The stage of the last update (`fetch`, `llm_extraction`, …); null before the first. */
  readonly stage: string | null;
  /** Every task_update in seq order. */
  readonly updates: readonly TaskUpdate[];
  /** The result once completed, else null. */
  readonly result: TaskResult | null;
  readonly error: ErrorInfo | null;
}

export interface ProcessingSnapshot {
  readonly isConnected: boolean;
  readonly files: readonly ProcessingFile[];
  readonly filesMap: Readonly<Record<string, ProcessingFile>>;
}

/** A File/Blob to upload, or an already uploaded blob. */
export type ProcessingInput = FileInput | BlobRef;

export interface ProcessingStore {
  readonly client: InvoiceflowClient;
  subscribe(listener: () => void): () => void;
  /** The same object until something changes. */
  getSnapshot(): ProcessingSnapshot;
  startBatchProcessing(
    files: Iterable<ProcessingInput> | ArrayLike<ProcessingInput>,
    options?: ProcessingOptions,
  ): Promise<ProcessingFile[]>;
  startSingleProcessing(file: ProcessingInput, options?: ProcessingOptions): Promise<ProcessingFile>;
  /** Start a failed file again (same File or blob URL and options) in its place. */
  retry(taskId: string): Promise<ProcessingFile | null>;
  /** Leave every task and forget every file. */
  resetProcessing(): void;
  connect(): void;
  /** Close the live connection; files stay and are followed again after connect(). */
  disconnect(): void;
}

export interface StoreSettings {
  /** Used when a start call passes no options. */
  processingOptions?: ProcessingOptions;
  /** Files per request (default 20, the gateway's limit). */
  maxBatch?: number;
}

export function createProcessingStore(client: InvoiceflowClient, settings?: StoreSettings): ProcessingStore;
