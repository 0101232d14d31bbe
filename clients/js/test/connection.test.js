// The live connection: joins, seq bookkeeping, reconnect with backoff and resume by after_seq.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { createClient } from "../src/index.js";
import { fakeWebSocketClass, fullRun, taskId, update } from "./fakes.js";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "setInterval"] }));
afterEach(() => mock.timers.reset());

function setup(options = {}) {
  const WebSocket = fakeWebSocketClass();
  const client = createClient({
    baseUrl: "http://gateway.test",
    WebSocket,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 },
    ...options,
  });
  return { WebSocket, client };
}

test("joins are sent once the gateway says `connected`, and updates are delivered in order", () => {
  const { WebSocket, client } = setup();
  const connection = client.connect();
  const states = [];
  connection.subscribe(({ state }) => states.push(state));
  const task = taskId();
  connection.join(task, "tok");
  assert.equal(WebSocket.instances.length, 1);
  assert.equal(WebSocket.last.url, "ws://gateway.test/ws");
  assert.deepEqual(WebSocket.last.sent, []); // not connected yet
  assert.equal(connection.isConnected, false);

  const seen = [];
  connection.on("task_update", (data) => seen.push(data.seq));
  WebSocket.last.accept();
  assert.equal(connection.isConnected, true);
  assert.deepEqual(states, ["connected"]);
  assert.deepEqual(WebSocket.last.sentEvents("join_task"), [{ task_id: task, token: "tok", after_seq: 0 }]);

  for (const data of fullRun(task)) WebSocket.last.frame("task_update", data);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(connection.lastSeq(task), 5);
  // A finished task is left, and nothing more of it is delivered.
  assert.deepEqual(WebSocket.last.sentEvents("leave_task"), [{ task_id: task }]);
  WebSocket.last.frame("task_update", update(task, 6, "progress"));
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

test("duplicate and old seqs are dropped; a gap makes it re-join from the last seq", () => {
  const { WebSocket, client } = setup();
  const connection = client.connect();
  const task = taskId();
  connection.join(task, "tok");
  WebSocket.last.accept();
  const seen = [];
  connection.on("task_update", (data) => seen.push(data.seq));
  const socket = WebSocket.last;
  socket.frame("task_update", update(task, 1, "stage_start"));
  socket.frame("task_update", update(task, 2, "progress"));
  socket.frame("task_update", update(task, 2, "progress"));
  socket.frame("task_update", update(task, 1, "stage_start"));
  assert.deepEqual(seen, [1, 2]);

  socket.frame("task_update", update(task, 4, "progress")); // 3 is missing
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(socket.sentEvents("join_task").at(-1), { task_id: task, token: "tok", after_seq: 2 });
  socket.frame("task_update", update(task, 3, "progress"));
  socket.frame("task_update", update(task, 4, "progress"));
  assert.deepEqual(seen, [1, 2, 3, 4]);

  // Updates of tasks nobody joined are ignored.
  socket.frame("task_update", update(taskId(), 1, "stage_start"));
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

test("after a drop it reconnects with exponential backoff and re-joins unfinished tasks with after_seq", () => {
  const { WebSocket, client } = setup();
  const connection = client.connect();
  const running = taskId();
  const done = taskId();
  connection.join(running, "tok-r");
  connection.join(done, "tok-d");
  WebSocket.last.accept("sid-1");
  for (const data of fullRun(done)) WebSocket.last.frame("task_update", data);
  WebSocket.last.frame("task_update", update(running, 1, "stage_start"));
  WebSocket.last.frame("task_update", update(running, 2, "progress"));

  const delays = [];
  connection.on("reconnecting", ({ delayMs }) => delays.push(delayMs));
  const states = [];
  connection.subscribe(({ state }) => states.push(state));

  WebSocket.last.drop();
  assert.equal(connection.isConnected, false);
  assert.equal(WebSocket.instances.length, 1);
  mock.timers.tick(99);
  assert.equal(WebSocket.instances.length, 1, "no reconnect before the backoff");
  mock.timers.tick(1);
  assert.equal(WebSocket.instances.length, 2);

  // The handshake fails twice: 200 ms, then 400 ms.
  WebSocket.last.drop();
  mock.timers.tick(199);
  assert.equal(WebSocket.instances.length, 2);
  mock.timers.tick(1);
  assert.equal(WebSocket.instances.length, 3);
  WebSocket.last.drop();
  mock.timers.tick(400);
  assert.equal(WebSocket.instances.length, 4);
  assert.deepEqual(delays, [100, 200, 400]);

  const socket = WebSocket.last;
  socket.accept("sid-2");
  assert.equal(connection.isConnected, true);
  assert.deepEqual(states, ["reconnecting", "connected"]);
  // Only the unfinished task, from the last seq seen.
  assert.deepEqual(socket.sentEvents("join_task"), [{ task_id: running, token: "tok-r", after_seq: 2 }]);

  // The replay starts after seq 2; a replayed old one would be dropped anyway.
  const seen = [];
  connection.on("task_update", (data) => seen.push(data.seq));
  socket.frame("task_update", update(running, 2, "progress"));
  socket.frame("task_update", update(running, 3, "progress"));
  assert.deepEqual(seen, [3]);

  // A connection that worked resets the backoff.
  socket.drop();
  assert.equal(delays.at(-1), 100);
});

test("the backoff is capped and jittered", () => {
  const { WebSocket, client } = setup({
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 },
    random: () => 1,
  });
  const connection = client.connect();
  const delays = [];
  connection.on("reconnecting", ({ delayMs }) => delays.push(delayMs));
  for (let attempt = 0; attempt < 7; attempt++) {
    WebSocket.last.drop();
    mock.timers.tick(1000);
  }
  // ceiling = min(1000, 100 * 2^n), and jitter 0.5 with random() = 1 takes half of it off.
  assert.deepEqual(delays, [50, 100, 200, 400, 500, 500, 500]);
});

test("a silent socket is closed and reconnected; pings are sent while connected", () => {
  const { WebSocket, client } = setup({ pingIntervalMs: 1000, pongTimeoutMs: 500 });
  client.connect();
  const first = WebSocket.last;
  first.accept();
  mock.timers.tick(1000);
  assert.equal(first.sentEvents("ping").length, 1);
  first.frame("pong", {});
  mock.timers.tick(1000);
  assert.equal(first.sentEvents("ping").length, 2);
  assert.equal(WebSocket.instances.length, 1);
  mock.timers.tick(500); // 1500 ms without a frame
  assert.equal(first.readyState, 3);
  mock.timers.tick(100);
  assert.equal(WebSocket.instances.length, 2);
});

test("close() stops reconnecting; a refused join is reported as task_error", () => {
  const { WebSocket, client } = setup();
  const connection = client.connect();
  const task = taskId();
  connection.join(task, "wrong");
  WebSocket.last.accept();
  const errors = [];
  connection.on("task_error", (error) => errors.push(error));
  WebSocket.last.frame("error", { code: "invalid_token", message: `wrong token for ${task}` });
  assert.deepEqual(errors, [{ task_id: task, code: "invalid_token", message: `wrong token for ${task}` }]);

  connection.close();
  assert.equal(connection.state, "closed");
  mock.timers.tick(10_000);
  assert.equal(WebSocket.instances.length, 1);
  // And it can be opened again.
  connection.connect();
  assert.equal(WebSocket.instances.length, 2);
});

test("without any WebSocket implementation connect() explains what to do", () => {
  const client = createClient({ baseUrl: "http://gateway.test", WebSocket: undefined });
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = undefined;
  try {
    assert.throws(() => client.connect(), /--experimental-websocket/);
  } finally {
    globalThis.WebSocket = saved;
  }
});
