// HTTP calls: paths, bodies, auth, error mapping.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, InvoiceflowClient, InvoiceflowError } from "../src/index.js";
import { fakeFetch, jsonResponse } from "./fakes.js";

const BLOB = {
  blob_url: "http://gateway.test/blobs/abc",
  blob_id: "abc",
  filename: "a.pdf",
  size: 3,
  content_type: "application/pdf",
  sha256: "abc",
};

test("upload posts one multipart request per file, field `file`, with the API key", async () => {
  const fetch = fakeFetch({
    "POST /api/upload": (call) => jsonResponse(201, { ...BLOB, filename: call.form.get("file").name }),
  });
  const client = createClient({ baseUrl: "http://gateway.test/", apiKey: "k1", fetch });
  assert.ok(client instanceof InvoiceflowClient);

  const one = await client.upload(new File(["%PDF"], "a.pdf"));
  assert.equal(one.filename, "a.pdf");
  const renamed = await client.upload(new Blob(["%PDF"]), { filename: "b.pdf" });
  assert.equal(renamed.filename, "b.pdf");
  const many = await client.upload([new File(["1"], "c.png"), new File(["2"], "d.png")]);
  assert.deepEqual(many.map((blob) => blob.filename), ["c.png", "d.png"]);

  assert.equal(fetch.calls.length, 4);
  for (const call of fetch.calls) {
    assert.equal(call.url.startsWith("http://gateway.test/api/upload"), true);
    assert.equal(call.init.headers.Authorization, "Bearer k1");
    assert.equal(call.form.getAll("file").length, 1);
  }
});

test("trigger, triggerBatch and submit send the documented bodies", async () => {
  const task = { task_id: "task_1", websocket_room: "task_1", token: "t", status: "pending" };
  const fetch = fakeFetch({
    "POST /api/invoices/upload": () => jsonResponse(202, task),
    "POST /api/invoices/batch": (call) =>
      jsonResponse(202, { tasks: call.json.files.map((f, i) => ({ ...task, task_id: `task_${i}`, filename: f.filename })) }),
    "POST /api/invoices": (call) =>
      jsonResponse(202, { tasks: call.form.getAll("file").map((f, i) => ({ ...task, task_id: `task_${i}`, filename: f.name })) }),
  });
  const client = createClient({ baseUrl: "http://gateway.test", fetch });

  assert.deepEqual(await client.trigger("http://x/blobs/1", "one.pdf", { auto_save: false }), task);
  assert.deepEqual(fetch.calls[0].json, { blob_url: "http://x/blobs/1", filename: "one.pdf", options: { auto_save: false } });
  assert.equal(fetch.calls[0].init.headers["Content-Type"], "application/json");
  assert.equal(fetch.calls[0].init.headers.Authorization, undefined);

  await client.trigger("http://x/blobs/2");
  assert.deepEqual(fetch.calls[1].json, { blob_url: "http://x/blobs/2" });

  const batch = await client.triggerBatch(
    [{ blob_url: "http://x/blobs/1", filename: "a.pdf" }, { blob_url: "http://x/blobs/2", filename: "b.pdf" }],
    { model_provider: "local" },
  );
  assert.deepEqual(batch.tasks.map((t) => t.filename), ["a.pdf", "b.pdf"]);
  assert.deepEqual(fetch.calls[2].json.options, { model_provider: "local" });

  const submitted = await client.submit([new File(["1"], "a.png"), new File(["2"], "b.png")], { auto_save: true });
  assert.deepEqual(submitted.tasks.map((t) => t.filename), ["a.png", "b.png"]);
  assert.equal(fetch.calls[3].form.get("options"), '{"auto_save":true}');
  await client.submit(new File(["1"], "single.png"));
  assert.equal(fetch.calls[4].form.getAll("file").length, 1);
  assert.equal(fetch.calls[4].form.get("options"), null);
});

test("status, invoices and invoice build their URLs", async () => {
  const fetch = fakeFetch({ "GET *": () => ({ ok: true }) });
  const client = createClient({ baseUrl: "http://gateway.test", fetch });
  await client.status("task_1", "tok en");
  await client.status("task_2");
  await client.invoices({ limit: 10, cursor: undefined, status: "needs_review", duplicate: false });
  await client.invoice("inv/1");
  assert.deepEqual(
    fetch.calls.map((call) => call.url),
    [
      "http://gateway.test/api/invoices/status/task_1?token=tok+en",
      "http://gateway.test/api/invoices/status/task_2",
      "http://gateway.test/api/invoices?limit=10&status=needs_review&duplicate=false",
      "http://gateway.test/api/invoices/inv%2F1",
    ],
  );
});

test("errors become InvoiceflowError with status, code and message from the body", async () => {
  const fetch = fakeFetch({
    "POST /api/upload": () => jsonResponse(415, { error: { code: "unsupported_media_type", message: "not an invoice type" } }),
    "GET /api/invoices/status/task_x": () => new Response("<html>bad gateway</html>", { status: 502 }),
  });
  const client = createClient({ baseUrl: "http://gateway.test", fetch });

  await assert.rejects(client.upload(new Blob(["hello"])), (error) => {
    assert.ok(error instanceof InvoiceflowError);
    assert.ok(error instanceof Error);
    assert.equal(error.status, 415);
    assert.equal(error.code, "unsupported_media_type");
    assert.equal(error.message, "not an invoice type");
    assert.deepEqual(error.toJSON(), { code: "unsupported_media_type", message: "not an invoice type" });
    return true;
  });
  await assert.rejects(client.status("task_x"), { name: "InvoiceflowError", status: 502, code: "http_502" });
  await assert.rejects(client.invoice("nope"), { status: 404, code: "not_found" });

  const offline = createClient({
    baseUrl: "http://gateway.test",
    fetch: async () => {
      throw new TypeError("fetch failed");
    },
  });
  await assert.rejects(offline.health(), { status: 0, code: "network_error" });
});

test("the WebSocket URL follows baseUrl", () => {
  assert.equal(createClient({ baseUrl: "http://h:8000" }).socketUrl(), "ws://h:8000/ws");
  assert.equal(createClient({ baseUrl: "https://h/prefix/" }).socketUrl(), "wss://h/prefix/ws");
  assert.equal(createClient({ baseUrl: "http://h", wsUrl: "ws://other/ws" }).socketUrl(), "ws://other/ws");
  assert.throws(() => createClient({ baseUrl: "" }).socketUrl(), TypeError);
});
