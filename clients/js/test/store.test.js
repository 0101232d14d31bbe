// The processing store: per-file state from task_update frames, errors, retry, reset.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { createClient, createProcessingStore } from "../src/index.js";
import { fakeFetch, fakeWebSocketClass, flush, fullRun, jsonResponse, RESULT, taskId, update } from "./fakes.js";

const FIELDS = ["task_id", "filename", "status", "progress", "stage", "updates", "result", "error"].sort();

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "setInterval"] }));
afterEach(() => mock.timers.reset());

function accept(name) {
  return { task_id: taskId(), websocket_room: "", token: `tok-${name}`, filename: name, status: "pending" };
}

/** A gateway that accepts every file, except those whose name starts with "bad". */
function gateway(extra = {}) {
  return fakeFetch({
    "POST /api/invoices": (call) => {
      const files = call.form.getAll("file");
      if (files.some((file) => file.name.startsWith("bad"))) {
        return jsonResponse(415, { error: { code: "unsupported_media_type", message: "not a PDF or image" } });
      }
      return jsonResponse(202, { tasks: files.map((file) => accept(file.name)) });
    },
    "POST /api/invoices/batch": (call) => jsonResponse(202, { tasks: call.json.files.map((f) => accept(f.filename)) }),
    ...extra,
  });
}

function setup(fetch = gateway(), settings = {}) {
  const WebSocket = fakeWebSocketClass();
  const client = createClient({
    baseUrl: "http://gateway.test",
    fetch,
    WebSocket,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 },
  });
  const store = createProcessingStore(client, settings);
  const notified = { count: 0 };
  store.subscribe(() => (notified.count += 1));
  return { WebSocket, client, store, fetch, notified };
}

test("a batch goes pending → processing → completed, with exactly the old hook's fields", async () => {
  const { WebSocket, store, fetch } = setup(gateway(), { processingOptions: { auto_save: false } });
  const empty = store.getSnapshot();
  assert.deepEqual(empty, { isConnected: false, files: [], filesMap: {} });
  assert.equal(store.getSnapshot(), empty, "same snapshot while nothing changes");

  const started = await store.startBatchProcessing([new File(["1"], "a.png"), new File(["2"], "b.pdf")]);
  assert.equal(fetch.calls.length, 1, "one multipart call for the batch");
  assert.equal(fetch.calls[0].form.get("options"), '{"auto_save":false}');
  assert.deepEqual(started.map((f) => f.filename), ["a.png", "b.pdf"]);

  let snap = store.getSnapshot();
  assert.equal(snap.files.length, 2);
  for (const file of snap.files) {
    assert.deepEqual(Object.keys(file).sort(), FIELDS);
    assert.equal(file.status, "pending");
    assert.equal(file.progress, 0);
    assert.equal(file.stage, null);
    assert.deepEqual(file.updates, []);
    assert.equal(file.result, null);
    assert.equal(file.error, null);
    assert.equal(snap.filesMap[file.task_id], file);
    assert.ok(Object.isFrozen(file));
  }
  assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.files));

  const socket = WebSocket.last;
  socket.accept();
  assert.equal(store.getSnapshot().isConnected, true);
  const [a, b] = snap.files;
  assert.deepEqual(
    socket.sentEvents("join_task"),
    [
      { task_id: a.task_id, token: "tok-a.png", after_seq: 0 },
      { task_id: b.task_id, token: "tok-b.pdf", after_seq: 0 },
    ],
  );

  const run = fullRun(a.task_id);
  socket.frame("task_update", run[0]);
  snap = store.getSnapshot();
  const first = snap.filesMap[a.task_id];
  assert.equal(first.status, "processing");
  assert.equal(first.progress, 5);
  assert.equal(first.stage, "fetch");
  assert.equal(first.updates.length, 1);
  assert.equal(snap.filesMap[b.task_id], b, "an untouched file keeps its identity");

  for (const data of run.slice(1, 4)) socket.frame("task_update", data);
  assert.equal(store.getSnapshot().filesMap[a.task_id].progress, 90);
  assert.equal(store.getSnapshot().filesMap[a.task_id].stage, "validation");
  socket.frame("task_update", run[4]);
  const done = store.getSnapshot().filesMap[a.task_id];
  assert.equal(done.status, "completed");
  assert.equal(done.progress, 100);
  assert.equal(done.stage, "complete");
  assert.deepEqual(done.result, RESULT);
  assert.equal(done.error, null);
  assert.deepEqual(done.updates.map((u) => u.seq), [1, 2, 3, 4, 5]);

  socket.frame("task_update", update(b.task_id, 1, "stage_start", { progress: 5 }));
  socket.frame("task_update", update(b.task_id, 2, "error", { progress: 10, error: { code: "corrupt_document", message: "cannot read" } }));
  const failed = store.getSnapshot().filesMap[b.task_id];
  assert.equal(failed.status, "error");
  assert.deepEqual(failed.error, { code: "corrupt_document", message: "cannot read" });
  assert.equal(failed.result, null);
  assert.equal(failed.progress, 10);
});

test("duplicate and old seqs change nothing", async () => {
  const { WebSocket, store, notified } = setup();
  const [file] = await store.startBatchProcessing([new File(["1"], "a.png")]);
  WebSocket.last.accept();
  const socket = WebSocket.last;
  socket.frame("task_update", update(file.task_id, 1, "stage_start", { progress: 5 }));
  socket.frame("task_update", update(file.task_id, 2, "progress", { progress: 20 }));
  const before = store.getSnapshot();
  const count = notified.count;
  socket.frame("task_update", update(file.task_id, 2, "progress", { progress: 20 }));
  socket.frame("task_update", update(file.task_id, 1, "stage_start", { progress: 5 }));
  assert.equal(store.getSnapshot(), before);
  assert.equal(notified.count, count);
  assert.deepEqual(store.getSnapshot().files[0].updates.map((u) => u.seq), [1, 2]);
});

test("after a drop the store re-joins with after_seq and shows every update once", async () => {
  const { WebSocket, store } = setup();
  const [file] = await store.startSingleProcessing(new File(["1"], "a.png")).then((f) => [f]);
  WebSocket.last.accept();
  const run = fullRun(file.task_id);
  WebSocket.last.frame("task_update", run[0]);
  WebSocket.last.frame("task_update", run[1]);

  WebSocket.last.drop();
  assert.equal(store.getSnapshot().isConnected, false);
  mock.timers.tick(100);
  const socket = WebSocket.last;
  assert.equal(WebSocket.instances.length, 2);
  socket.accept("sid-2");
  assert.equal(store.getSnapshot().isConnected, true);
  assert.deepEqual(socket.sentEvents("join_task"), [{ task_id: file.task_id, token: "tok-a.png", after_seq: 2 }]);
  // The gateway replays from seq 3 (and a defensive duplicate of 2 is dropped).
  for (const data of [run[1], ...run.slice(2)]) socket.frame("task_update", data);
  const done = store.getSnapshot().files[0];
  assert.equal(done.status, "completed");
  assert.deepEqual(done.updates.map((u) => u.seq), [1, 2, 3, 4, 5]);
});

test("HTTP failures on start become files in error state, not rejections", async () => {
  const fetch = fakeFetch({
    "POST /api/invoices": () => jsonResponse(503, { error: { code: "service_unavailable", message: "NATS is down" } }),
    "POST /api/invoices/batch": async () => {
      throw new TypeError("fetch failed");
    },
  });
  const { store } = setup(fetch);
  const files = await store.startBatchProcessing([new File(["1"], "a.png"), new File(["2"], "b.png")]);
  assert.deepEqual(files.map((f) => f.status), ["error", "error"]);
  assert.deepEqual(files[0].error, { code: "service_unavailable", message: "NATS is down" });
  assert.match(files[0].task_id, /^local_\d+$/);
  assert.notEqual(files[0].task_id, files[1].task_id);

  const one = await store.startSingleProcessing({ blob_url: "http://x/blobs/abc", filename: "c.pdf" });
  assert.equal(one.status, "error");
  assert.equal(one.filename, "c.pdf");
  assert.equal(one.error.code, "network_error");
  assert.equal(store.getSnapshot().files.length, 3);
});

test("one bad file in a batch fails alone", async () => {
  const { store, fetch } = setup();
  const files = await store.startBatchProcessing([new File(["1"], "a.png"), new File(["2"], "bad.txt"), new File(["3"], "c.png")]);
  assert.deepEqual(files.map((f) => [f.filename, f.status]), [["a.png", "pending"], ["bad.txt", "error"], ["c.png", "pending"]]);
  assert.equal(files[1].error.code, "unsupported_media_type");
  assert.equal(fetch.calls.length, 4, "the batch, then one call per file");
});

test("blob refs go to /batch, Files to /api/invoices, and order is kept", async () => {
  const { store, fetch } = setup();
  const files = await store.startBatchProcessing([
    { blob_url: "http://x/blobs/1", filename: "one.pdf" },
    new File(["2"], "two.png"),
    { blob_url: "http://x/blobs/three.pdf" },
  ]);
  assert.deepEqual(files.map((f) => f.filename), ["one.pdf", "two.png", "three.pdf"]);
  assert.deepEqual(store.getSnapshot().files.map((f) => f.filename), ["one.pdf", "two.png", "three.pdf"]);
  assert.deepEqual(fetch.calls.map((c) => c.key).sort(), ["POST /api/invoices", "POST /api/invoices/batch"]);
});

test("large selections are sent in batches of at most maxBatch", async () => {
  const { store, fetch } = setup(gateway(), { maxBatch: 2 });
  const files = await store.startBatchProcessing(["a", "b", "c", "d", "e"].map((n) => new File([n], `${n}.png`)));
  assert.equal(files.length, 5);
  assert.deepEqual(fetch.calls.map((c) => c.form.getAll("file").length), [2, 2, 1]);
});

test("retry re-submits a failed file in its place, with its File and options", async () => {
  let failNext = true;
  const fetch = gateway({
    "POST /api/invoices": (call) => {
      if (failNext) {
        failNext = false;
        return jsonResponse(503, { error: { code: "service_unavailable", message: "down" } });
      }
      return jsonResponse(202, { tasks: call.form.getAll("file").map((file) => accept(file.name)) });
    },
  });
  const { WebSocket, store } = setup(fetch);
  const [blobFile] = await store.startBatchProcessing([{ blob_url: "http://x/blobs/1", filename: "first.pdf" }]);
  const [failed] = await store.startBatchProcessing([new File(["x"], "again.png")], { model: "m1" });
  assert.equal(failed.status, "error");

  const fresh = await store.retry(failed.task_id);
  assert.equal(fresh.status, "pending");
  assert.equal(fresh.filename, "again.png");
  assert.match(fresh.task_id, /^task_/);
  const call = fetch.calls.at(-1);
  assert.equal(call.form.get("file").name, "again.png");
  assert.equal(call.form.get("options"), '{"model":"m1"}');
  const snap = store.getSnapshot();
  assert.deepEqual(snap.files.map((f) => f.task_id), [blobFile.task_id, fresh.task_id]);
  assert.equal(snap.filesMap[failed.task_id], undefined);

  // A task that failed while processing is retried too (from its blob URL).
  WebSocket.last.accept();
  WebSocket.last.frame("task_update", update(blobFile.task_id, 1, "error", { error: { code: "fetch_failed", message: "x" } }));
  const again = await store.retry(blobFile.task_id);
  assert.equal(again.status, "pending");
  assert.equal(fetch.calls.at(-1).json.files[0].blob_url, "http://x/blobs/1");
  assert.deepEqual(store.getSnapshot().files.map((f) => f.task_id), [again.task_id, fresh.task_id]);
  await assert.rejects(store.retry("task_unknown"), { code: "unknown_file" });
});

test("a join refused by the gateway marks that file as error", async () => {
  const { WebSocket, store } = setup();
  const [file] = await store.startBatchProcessing([new File(["1"], "a.png")]);
  WebSocket.last.accept();
  WebSocket.last.frame("error", { code: "task_not_found", message: `no task '${file.task_id}'` });
  const now = store.getSnapshot().files[0];
  assert.equal(now.status, "error");
  assert.equal(now.error.code, "task_not_found");
});

test("resetProcessing leaves every task and clears the files; late answers are ignored", async () => {
  let release;
  const slow = new Promise((resolve) => (release = resolve));
  const fetch = gateway({
    "POST /api/invoices/batch": async (call) => {
      await slow;
      return jsonResponse(202, { tasks: call.json.files.map((f) => accept(f.filename)) });
    },
  });
  const { WebSocket, store } = setup(fetch);
  const files = await store.startBatchProcessing([new File(["1"], "a.png"), new File(["2"], "b.png")]);
  WebSocket.last.accept();
  const late = store.startBatchProcessing([{ blob_url: "http://x/blobs/9", filename: "late.pdf" }]);
  await flush();

  store.resetProcessing();
  assert.deepEqual(store.getSnapshot().files, []);
  assert.deepEqual(store.getSnapshot().filesMap, {});
  assert.deepEqual(
    WebSocket.last.sentEvents("leave_task").map((d) => d.task_id),
    files.map((f) => f.task_id),
  );
  // Updates of the old tasks no longer land anywhere.
  WebSocket.last.frame("task_update", update(files[0].task_id, 1, "stage_start"));
  assert.deepEqual(store.getSnapshot().files, []);

  release();
  assert.deepEqual(await late, []);
  assert.deepEqual(store.getSnapshot().files, []);
  assert.equal(store.getSnapshot().isConnected, true);
});

test("two retries of one file at once make one request", async () => {
  let fail = true;
  const fetch = gateway({
    "POST /api/invoices/batch": (call) =>
      fail
        ? jsonResponse(500, { error: { code: "internal_error", message: "oops" } })
        : jsonResponse(202, { tasks: call.json.files.map((f) => accept(f.filename)) }),
  });
  const { store } = setup(fetch);
  const failed = await store.startSingleProcessing({ blob_url: "http://x/blobs/1", filename: "x.pdf" });
  fail = false;
  const [one, two] = await Promise.all([store.retry(failed.task_id), store.retry(failed.task_id)]);
  assert.equal(one, two);
  assert.equal(fetch.calls.length, 2);
  assert.equal(store.getSnapshot().files.length, 1);
});
