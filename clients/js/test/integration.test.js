// Against a running gateway: set INVOICEFLOW_URL (and INVOICEFLOW_API_KEY if it asks for one).
//   INVOICEFLOW_URL=http://localhost:8000 node --experimental-websocket --test test/integration.test.js
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { after, before, test } from "node:test";

import { createClient, createProcessingStore } from "../src/index.js";

const BASE_URL = process.env.INVOICEFLOW_URL;
const skip = BASE_URL ? false : "INVOICEFLOW_URL is not set (no gateway to test against)";
const TIMEOUT_MS = Number(process.env.INVOICEFLOW_TEST_TIMEOUT_MS || 90_000);
const RESULT_FIELDS = [
  "confidence", "duplicate_of", "einvoice", "evidence", "invoice", "invoice_id", "provider", "saved",
  "usage", "validation",
];

// --- tiny real documents -----------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A white grayscale PNG with a few dark bars (a "document"), `tag` varying its pixels. */
function png(width = 240, height = 120, tag = 0) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(width + 1, 0xff);
    row[0] = 0; // filter: none
    if (y % 20 >= 8 && y % 20 < 12) row.fill(0x20, 10, 10 + ((y * 7 + tag * 13) % (width - 20)));
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grayscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A one-page PDF with a real text layer (Helvetica). */
function pdf(lines) {
  const text = lines.map((line, row) => `BT /F1 12 Tf 50 ${750 - 20 * row} Td (${line}) Tj ET`).join("\n");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    `<< /Length ${Buffer.byteLength(text)} >>\nstream\n${text}\nendstream`,
  ];
  let out = "%PDF-1.4\n";
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out);
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  out += offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`).join("");
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

const INVOICE_LINES = [
  "ACME GmbH",
  "Invoice INV-1001",
  "Date 2024-03-15",
  "Widget 2 x 50.00 = 100.00",
  "Gadget 1 x 62.18 = 62.18",
  "Subtotal 162.18",
  "VAT 19% 30.82",
  "Total EUR 193.00",
];

function documents(tag) {
  return [
    new File([png(240, 120, tag.length)], `${tag}-invoice.png`, { type: "image/png" }),
    new File([pdf([...INVOICE_LINES, `ref ${tag}`])], `${tag}-invoice.pdf`, { type: "application/pdf" }),
  ];
}

// --- helpers ---------------------------------------------------------------------------------

let WebSocketImpl;
before(async () => {
  WebSocketImpl = globalThis.WebSocket ?? (await import("ws")).default;
});

const stores = [];
after(() => {
  for (const store of stores) store.disconnect();
});

function makeStore() {
  const client = createClient({
    baseUrl: BASE_URL,
    apiKey: process.env.INVOICEFLOW_API_KEY || undefined,
    WebSocket: WebSocketImpl,
    reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
  });
  const store = createProcessingStore(client);
  stores.push(store);
  return { client, store };
}

const finished = (file) => file.status === "completed" || file.status === "error";

/** Resolves with the snapshot once every file has finished. */
function allFinished(store, count) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const snap = store.getSnapshot();
      if (snap.files.length === count && snap.files.every(finished)) {
        clearTimeout(timer);
        off();
        resolve(snap);
      }
    };
    const timer = setTimeout(() => {
      off();
      const states = store.getSnapshot().files.map((f) => `${f.filename}: ${f.status} ${f.progress}% ${f.stage}`);
      reject(new Error(`files not finished after ${TIMEOUT_MS} ms: ${states.join("; ")}`));
    }, TIMEOUT_MS);
    const off = store.subscribe(check);
    check();
  });
}

async function checkCompleted(client, files, names) {
  assert.deepEqual(files.map((f) => f.filename), names);
  for (const file of files) {
    assert.equal(file.status, "completed", `${file.filename}: ${JSON.stringify(file.error)}`);
    assert.match(file.task_id, /^task_[0-9a-f]{32}$/);
    assert.equal(file.progress, 100);
    assert.equal(file.stage, "complete");
    assert.equal(file.error, null);
    assert.deepEqual(Object.keys(file.result).sort(), RESULT_FIELDS);
    assert.ok(["valid", "needs_review", "invalid"].includes(file.result.validation.status));
    const seqs = file.updates.map((u) => u.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `${file.filename}: seqs ${seqs}`);
    assert.equal(file.updates.at(-1).type, "complete");
    assert.ok(file.updates.every((u) => u.task_id === file.task_id));

    const status = await client.status(file.task_id);
    assert.equal(status.task_id, file.task_id);
    assert.equal(status.status, "completed");
    assert.equal(status.progress, 100);
    assert.equal(status.filename, file.filename);
    assert.deepEqual(status.result, file.result);
  }
}

// --- tests -----------------------------------------------------------------------------------

test("upload, then startBatchProcessing by blob URL: every file completes with every update once", { skip }, async () => {
  const { client, store } = makeStore();
  const docs = documents("blob");
  const blobs = await client.upload(docs);
  assert.deepEqual(blobs.map((b) => b.content_type), ["image/png", "application/pdf"]);
  const started = await store.startBatchProcessing(blobs.map((b) => ({ blob_url: b.blob_url, filename: b.filename })));
  assert.ok(started.every((f) => f.status === "pending"), JSON.stringify(started));

  const snap = await allFinished(store, 2);
  assert.equal(snap.isConnected, true);
  await checkCompleted(client, snap.files, docs.map((d) => d.name));
});

test("startBatchProcessing with Files, surviving a dropped socket in the middle", { skip }, async () => {
  const { client, store } = makeStore();
  const docs = documents("files");
  store.connect();
  const sids = [];
  client.connection.on("connected", ({ sid }) => sids.push(sid));
  let dropped = false;
  // Drop the socket as soon as the first update arrives: the rest must come by replay.
  const off = store.subscribe(() => {
    const snap = store.getSnapshot();
    if (!dropped && snap.files.some((f) => f.updates.length > 0)) {
      dropped = true;
      client.connection.ws.close();
    }
  });
  await store.startBatchProcessing(docs);
  const snap = await allFinished(store, 2);
  off();
  assert.ok(dropped);
  assert.ok(client.connection.isConnected);
  assert.ok(sids.length >= 2, `reconnected (sessions ${sids})`);
  await checkCompleted(client, snap.files, docs.map((d) => d.name));
});

test("HTTP errors: a file that is no invoice becomes an error file", { skip }, async () => {
  const { store } = makeStore();
  const [file] = await store.startBatchProcessing([new File(["just text"], "notes.txt", { type: "text/plain" })]);
  assert.equal(file.status, "error");
  assert.equal(file.error.code, "unsupported_media_type");
  assert.match(file.task_id, /^local_/);
});
