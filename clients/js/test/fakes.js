// Test doubles: a scripted fetch and a WebSocket class the test drives by hand.

export function jsonResponse(status, body) {
  return new Response(body === undefined ? "" : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/**
 * A fetch whose answers come from `routes`: {"POST /api/upload": (call) => Response | body}.
 * A handler returning a plain object answers 200 with it as JSON. Every call is recorded.
 */
export function fakeFetch(routes = {}) {
  const calls = [];
  async function fetch(url, init = {}) {
    const parsed = new URL(url, "http://gateway.test");
    const key = `${init.method || "GET"} ${parsed.pathname}`;
    const call = { url: String(url), path: parsed.pathname, query: parsed.searchParams, key, init };
    if (typeof init.body === "string") call.json = JSON.parse(init.body);
    if (init.body instanceof FormData) call.form = init.body;
    calls.push(call);
    const handler = routes[key] ?? routes[`${init.method || "GET"} *`];
    if (!handler) return jsonResponse(404, { error: { code: "not_found", message: `no route ${key}` } });
    const answer = await handler(call, calls.filter((c) => c.key === key).length);
    return answer instanceof Response ? answer : jsonResponse(200, answer);
  }
  fetch.calls = calls;
  return fetch;
}

let taskCounter = 0;
export function taskId() {
  taskCounter += 1;
  return `task_${taskCounter.toString(16).padStart(32, "0")}`;
}

/** A fresh fake WebSocket class; its `instances` are every socket the client opened. */
export function fakeWebSocketClass() {
  class FakeWebSocket {
    static instances = [];
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSED = 3;

    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.listeners = new Map();
      FakeWebSocket.instances.push(this);
    }

    static get last() {
      return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    }

    addEventListener(type, listener) {
      if (!this.listeners.has(type)) this.listeners.set(type, []);
      this.listeners.get(type).push(listener);
    }

    dispatch(type, event = {}) {
      for (const listener of this.listeners.get(type) || []) listener(event);
    }

    send(text) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(JSON.parse(text));
    }

    close(code = 1000) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.closedWith = code;
      this.dispatch("close", { code });
    }

    // --- the server side, driven by the test ---

    /** Handshake done: open, then the gateway's `connected` frame. */
    accept(sid = "sid-1") {
      this.readyState = 1;
      this.dispatch("open");
      this.frame("connected", { sid });
    }

    frame(event, data) {
      this.dispatch("message", { data: JSON.stringify({ event, data }) });
    }

    /** The connection is lost (no close handshake). */
    drop(code = 1006) {
      this.readyState = 3;
      this.dispatch("close", { code });
    }

    /** Frames the client sent with this event name. */
    sentEvents(event) {
      return this.sent.filter((frame) => frame.event === event).map((frame) => frame.data);
    }
  }
  return FakeWebSocket;
}

export function update(task_id, seq, type, fields = {}) {
  return {
    type,
    task_id,
    seq,
    progress: 0,
    stage: "fetch",
    message: type,
    timestamp: 1_700_000_000 + seq,
    ...fields,
  };
}

export const RESULT = {
  invoice: { invoice_number: "INV-1001", total: "193.00", currency: "EUR" },
  confidence: { total: 0.95 },
  validation: { status: "valid", issues: [] },
  saved: true,
  invoice_id: "inv_1",
  duplicate_of: null,
  provider: "openai",
  usage: { input_tokens: 10, output_tokens: 5 },
};

/** A whole successful task: stage updates from seq 1 to `complete`. */
export function fullRun(task_id) {
  return [
    update(task_id, 1, "stage_start", { stage: "fetch", progress: 5 }),
    update(task_id, 2, "stage_complete", { stage: "fetch", progress: 10 }),
    update(task_id, 3, "progress", { stage: "llm_extraction", progress: 50 }),
    update(task_id, 4, "stage_complete", { stage: "validation", progress: 90 }),
    update(task_id, 5, "complete", { stage: "complete", progress: 100, result: RESULT }),
  ];
}

/** Let pending promise callbacks run (fetch answers, awaits). */
export async function flush(rounds = 10) {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
