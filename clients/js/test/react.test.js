// useAsyncProcessing() with react-test-renderer: connection state and files follow the store.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { createElement, StrictMode } from "react";
import TestRenderer from "react-test-renderer";

import { createClient, createProcessingStore } from "../src/index.js";
import { useAsyncProcessing } from "../src/react.js";
import { fakeFetch, fakeWebSocketClass, fullRun, jsonResponse, RESULT, update } from "./fakes.js";

const { act } = TestRenderer;
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "setInterval"] }));
afterEach(() => mock.timers.reset());

let counter = 0;
function gateway() {
  return fakeFetch({
    "POST /api/invoices": (call) =>
      jsonResponse(202, {
        tasks: call.form.getAll("file").map((file) => {
          counter += 1;
          const task_id = `task_${counter.toString(16).padStart(32, "a")}`;
          return { task_id, websocket_room: task_id, token: `tok-${file.name}`, filename: file.name, status: "pending" };
        }),
      }),
    "POST /api/invoices/batch": () => jsonResponse(503, { error: { code: "service_unavailable", message: "down" } }),
  });
}

/** Renders the hook; `probe.current` is its latest return value, `probe.renders` every one. */
function renderHook(options, { strict = false } = {}) {
  const probe = { current: null, renders: [] };
  function Probe() {
    const value = useAsyncProcessing(options);
    probe.current = value;
    probe.renders.push(value);
    return null;
  }
  let renderer;
  act(() => {
    const element = createElement(Probe);
    renderer = TestRenderer.create(strict ? createElement(StrictMode, null, element) : element);
  });
  return { probe, renderer };
}

test("the hook returns the old stack's names, and isConnected/files update live", async () => {
  const WebSocket = fakeWebSocketClass();
  const fetch = gateway();
  const { probe, renderer } = renderHook({
    baseUrl: "http://gateway.test",
    WebSocket,
    fetch,
    processingOptions: { auto_save: false },
  });

  assert.deepEqual(
    Object.keys(probe.current).sort(),
    ["filesMap", "files", "isConnected", "resetProcessing", "retry", "startBatchProcessing", "startSingleProcessing"].sort(),
  );
  assert.equal(probe.current.isConnected, false);
  assert.deepEqual(probe.current.files, []);
  assert.equal(WebSocket.instances.length, 1, "connects on mount");

  act(() => WebSocket.last.accept());
  assert.equal(probe.current.isConnected, true);

  const { startBatchProcessing } = probe.current;
  await act(async () => {
    await probe.current.startBatchProcessing([new File(["1"], "a.png"), new File(["2"], "b.png")]);
  });
  assert.equal(probe.current.startBatchProcessing, startBatchProcessing, "stable functions");
  assert.equal(fetch.calls[0].form.get("options"), '{"auto_save":false}');
  assert.deepEqual(probe.current.files.map((f) => [f.filename, f.status]), [["a.png", "pending"], ["b.png", "pending"]]);
  const [a, b] = probe.current.files;
  assert.equal(probe.current.filesMap[a.task_id], a);

  const run = fullRun(a.task_id);
  act(() => WebSocket.last.frame("task_update", run[0]));
  assert.equal(probe.current.filesMap[a.task_id].status, "processing");
  assert.equal(probe.current.filesMap[a.task_id].progress, 5);
  act(() => {
    for (const data of run.slice(1)) WebSocket.last.frame("task_update", data);
  });
  const done = probe.current.filesMap[a.task_id];
  assert.equal(done.status, "completed");
  assert.equal(done.progress, 100);
  assert.deepEqual(done.result, RESULT);

  act(() => WebSocket.last.frame("task_update", update(b.task_id, 1, "error", { error: { code: "ocr_failed", message: "no text" } })));
  assert.deepEqual(probe.current.filesMap[b.task_id].error, { code: "ocr_failed", message: "no text" });

  // A drop shows as disconnected, and the reconnect as connected again.
  act(() => WebSocket.last.drop());
  assert.equal(probe.current.isConnected, false);
  act(() => mock.timers.tick(500));
  act(() => WebSocket.last.accept("sid-2"));
  assert.equal(probe.current.isConnected, true);

  // A start that fails over HTTP shows a file in error state.
  await act(async () => {
    await probe.current.startSingleProcessing({ blob_url: "http://x/blobs/1", filename: "c.pdf" });
  });
  assert.deepEqual(probe.current.files.map((f) => f.status), ["completed", "error", "error"]);
  assert.equal(probe.current.files[2].error.code, "service_unavailable");

  act(() => probe.current.resetProcessing());
  assert.deepEqual(probe.current.files, []);
  assert.deepEqual(probe.current.filesMap, {});

  // Unmounting closes the connection the hook opened, for good.
  act(() => renderer.unmount());
  assert.equal(WebSocket.last.readyState, 3);
  const sockets = WebSocket.instances.length;
  mock.timers.tick(60_000);
  assert.equal(WebSocket.instances.length, sockets);
});

test("nothing re-renders while nothing changes, and StrictMode's double mount keeps one live socket", () => {
  const WebSocket = fakeWebSocketClass();
  const { probe, renderer } = renderHook({ baseUrl: "http://gateway.test", WebSocket, fetch: gateway() }, { strict: true });
  const open = WebSocket.instances.filter((ws) => ws.readyState !== 3);
  assert.equal(open.length, 1);
  const renders = probe.renders.length;
  act(() => open[0].frame("pong", {}));
  assert.equal(probe.renders.length, renders);
  act(() => open[0].accept());
  assert.equal(probe.current.isConnected, true);
  act(() => renderer.unmount());
});

test("hooks given one store share its files; the shared store stays connected on unmount", async () => {
  const WebSocket = fakeWebSocketClass();
  const client = createClient({ baseUrl: "http://gateway.test", WebSocket, fetch: gateway() });
  const store = createProcessingStore(client);
  const first = renderHook({ store });
  const second = renderHook({ store });
  act(() => WebSocket.last.accept());
  await act(async () => {
    await first.probe.current.startSingleProcessing(new File(["1"], "shared.png"));
  });
  assert.equal(second.probe.current.files.length, 1);
  assert.equal(second.probe.current.files[0], first.probe.current.files[0]);
  act(() => first.renderer.unmount());
  assert.equal(second.probe.current.isConnected, true);
  act(() => second.renderer.unmount());
  store.disconnect();
});
