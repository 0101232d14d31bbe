// invoiceflow review workspace: the saved invoices and one invoice at a time, reviewed in place.
//
// One page for `/invoices` (the list) and `/invoices/{id}` (one invoice); the path picks the view
// and history.pushState moves between them. The list's filters live in the URL's query, and an
// invoice opened from the list keeps them: they name the queue that "Next" and "Approve and next"
// walk (the review queue, `status=needs_review`, when there is none).
//
// Edits stay in the inputs until they are saved: a check, a refused review or a version conflict
// never clears them. The corrections sent are the fields whose input differs from the saved value.

import { API_KEY_STORAGE, keepStored } from "/static/stored.js";

const REVIEWER_STORAGE = "invoiceflow.reviewer"; // in localStorage: it is not a secret
const PAGE_SIZE = 50;
const MAX_PAGES = 50;
const STATUSES = ["needs_review", "invalid", "valid", "approved", "rejected"];
const STATUS_LABELS = {
  valid: "Valid",
  needs_review: "Needs review",
  invalid: "Invalid",
  approved: "Approved",
  rejected: "Rejected",
};
const FILTER_KEYS = ["status", "vendor", "date_from", "date_to", "duplicate"];
const MONEY = /^-?\d+(\.\d+)?$/;
const CURRENCY = /^[A-Z]{3}$/;

// What each field is and how it is typed. `money` inputs take decimal text ("193.00").
const GROUPS = [
  {
    title: "Document",
    fields: [
      ["document_type", "Document type", "choice", ["invoice", "receipt", "credit_note"]],
      ["invoice_number", "Invoice number", "text"],
      ["invoice_date", "Invoice date", "date"],
      ["due_date", "Due date", "date"],
      ["currency", "Currency", "currency"],
      ["purchase_order", "Purchase order", "text"],
      ["payment_terms", "Payment terms", "text"],
    ],
  },
  { title: "Vendor", fields: partyFields("vendor") },
  { title: "Customer", fields: partyFields("customer") },
  {
    title: "Amounts",
    fields: [
      ["subtotal", "Subtotal", "money"],
      ["total_discount", "Discount", "money"],
      ["shipping", "Shipping", "money"],
      ["total_tax", "Total tax", "money"],
      ["total", "Total", "money"],
      ["amount_paid", "Amount paid", "money"],
      ["amount_due", "Amount due", "money"],
    ],
  },
  {
    title: "Payment",
    fields: [
      ["payment.iban", "IBAN", "text"],
      ["payment.bic", "BIC", "text"],
      ["payment.reference", "Payment reference", "text"],
    ],
  },
];
const LINE_COLUMNS = [
  ["description", "Description", "text"],
  ["quantity", "Quantity", "money"],
  ["unit", "Unit", "text"],
  ["unit_price", "Unit price", "money"],
  ["tax_rate", "Tax %", "money"],
  ["amount", "Amount", "money"],
  ["product_code", "Code", "text"],
];
const TAX_COLUMNS = [
  ["rate", "Rate %", "money"],
  ["base", "Base", "money"],
  ["amount", "Amount", "money"],
  ["category", "Category", "text"],
];
const SHORTCUTS = [
  ["?", "Show this help"],
  ["j / k", "Next / previous field (or invoice in the list)"],
  ["e", "Edit the current field"],
  ["Esc", "Leave a text box, close this help, or go back to the list"],
  ["c", "Check: re-run validation on your corrections"],
  ["a", "Approve"],
  ["Shift + A", "Approve and open the next invoice"],
  ["r", "Reject (with the comment, if any)"],
  ["n / p", "Next / previous invoice in the queue"],
  ["m", "Write a comment"],
  ["/", "Filter the list (vendor)"],
  ["q", "Open the review queue (needs review)"],
  ["Enter", "Open the invoice (in the list)"],
];

function partyFields(party) {
  const names = { name: "Name", address: "Address", tax_id: "Tax ID", email: "Email", phone: "Phone" };
  return Object.entries(names).map(([key, label]) => [`${party}.${key}`, label, "text"]);
}

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else if (key in node && !key.includes("-")) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child != null));
  return node;
};

const ui = {
  apiKey: $("#api-key"),
  reviewer: $("#reviewer"),
  settings: $("#settings"),
  status: $("#status"),
  message: $("#message"),
  main: $("#main"),
  listView: $("#list-view"),
  invoiceView: $("#invoice-view"),
  filters: $("#filters"),
  chips: $("#status-chips"),
  vendor: $("#f-vendor"),
  dateFrom: $("#f-date-from"),
  dateTo: $("#f-date-to"),
  duplicate: $("#f-duplicate"),
  rows: $("#invoice-rows"),
  listEmpty: $("#list-empty"),
  more: $("#more"),
  exportCsv: $("#export-csv"),
  exportJsonl: $("#export-jsonl"),
  back: $("#back"),
  heading: $("#invoice-heading"),
  invoiceStatus: $("#invoice-status"),
  queuePosition: $("#queue-position"),
  conflict: $("#conflict"),
  conflictText: $("#conflict-text"),
  conflictRows: $("#conflict-rows"),
  reapply: $("#reapply"),
  discard: $("#discard"),
  comment: $("#comment"),
  check: $("#check"),
  approve: $("#approve"),
  approveNext: $("#approve-next"),
  reject: $("#reject"),
  next: $("#next"),
  checkResult: $("#check-result"),
  pages: $("#pages"),
  fields: $("#fields"),
  allFindings: $("#all-findings"),
  groups: $("#field-groups"),
  lineItems: $("#line-items"),
  taxDetails: $("#tax-details"),
  trail: $("#trail"),
  trailEmpty: $("#trail-empty"),
  exportMessage: $("#export-message"),
  help: $("#help"),
  helpButton: $("#help-button"),
  helpClose: $("#help-close"),
  shortcutList: $("#shortcut-list"),
};

// ---------------------------------------------------------------------------------------------
// The API.

function authHeaders() {
  const key = ui.apiKey.value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `the gateway answered ${status}`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.body = error;
  }
}

async function api(path, options = {}) {
  const headers = { ...authHeaders(), ...(options.headers || {}) };
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (exc) {
    throw new ApiError(0, { code: "network_error", message: `could not reach the gateway (${exc.message || exc})` });
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    const error = (body && body.error) || { code: `http_${response.status}`, message: `the gateway answered ${response.status}` };
    if (response.status === 401) error.message = `${error.message} — set the API key under Settings.`;
    throw new ApiError(response.status, error);
  }
  return response;
}

const getJson = async (path) => (await api(path)).json();
const postJson = async (path, body) =>
  (await api(path, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } })).json();

/** A page image as an object URL (the API key goes in a header, which an <img src> cannot send). */
const pageCache = new Map(); // "invoice_id/n" -> Promise<string|null>
function pageUrl(invoiceId, n) {
  const key = `${invoiceId}/${n}`;
  if (!pageCache.has(key)) {
    const loading = api(`/api/invoices/${invoiceId}/pages/${n}`)
      .then(async (response) => URL.createObjectURL(await response.blob()))
      .catch((exc) => {
        pageCache.delete(key);
        if (exc.status === 404) return null; // past the last page, or an XML e-invoice
        throw exc;
      });
    pageCache.set(key, loading);
  }
  return pageCache.get(key);
}

const invoiceCache = new Map(); // invoice_id -> Promise<saved invoice>, for the preloaded next one
function fetchInvoice(invoiceId, fresh = false) {
  if (fresh || !invoiceCache.has(invoiceId)) {
    const loading = getJson(`/api/invoices/${invoiceId}`);
    loading.catch(() => invoiceCache.delete(invoiceId));
    invoiceCache.set(invoiceId, loading);
  }
  return invoiceCache.get(invoiceId);
}

async function download(path, fallbackName) {
  const response = await api(path);
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: match ? match[1] : fallbackName });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------------------------------------
// Messages.

function say(text) {
  ui.status.textContent = text;
}

function showMessage(text) {
  ui.message.textContent = text;
  ui.message.hidden = !text;
}

function describe(exc) {
  return exc.code ? `${exc.message} (${exc.code})` : String(exc.message || exc);
}

// ---------------------------------------------------------------------------------------------
// Filters and the URL.

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  const filters = {};
  for (const key of FILTER_KEYS) if (params.get(key)) filters[key] = params.get(key);
  return filters;
}

function query(filters, extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...filters, ...extra })) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : "";
}

function withoutStatus(filters) {
  const { status: _status, ...rest } = filters;
  return rest;
}

function readFilterForm(status) {
  return {
    status,
    vendor: ui.vendor.value.trim(),
    date_from: ui.dateFrom.value,
    date_to: ui.dateTo.value,
    duplicate: ui.duplicate.value,
  };
}

function fillFilterForm(filters) {
  ui.vendor.value = filters.vendor || "";
  ui.dateFrom.value = filters.date_from || "";
  ui.dateTo.value = filters.date_to || "";
  ui.duplicate.value = filters.duplicate || "";
}

function navigate(path, replace = false) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  route();
}

// ---------------------------------------------------------------------------------------------
// The list.

const list = { filters: {}, cursor: null, loading: null, generation: 0 };

function renderChips(filters, counts) {
  const current = filters.status || "";
  const chips = [["", "All", counts ? counts.total : null], ...STATUSES.map((s) => [s, STATUS_LABELS[s], counts ? counts.counts[s] : null])];
  ui.chips.replaceChildren(
    ...chips.map(([status, label, count]) => {
      const input = el("input", { type: "radio", name: "status", value: status, checked: status === current, id: `chip-${status || "all"}` });
      input.addEventListener("change", () => applyFilters(status));
      const text = el("span", { class: "chip-label" }, label);
      const number = el("span", { class: "count", dataset: { count: count == null ? "" : String(count) } }, count == null ? "…" : String(count));
      return el("label", { class: "chip", dataset: { status: status || "all" } }, input, badgeDot(status), text, " ", number);
    }),
  );
}

function badgeDot(status) {
  return el("span", { class: "dot", dataset: { status: status || "all" }, "aria-hidden": "true" });
}

function applyFilters(status) {
  const filters = readFilterForm(status ?? (list.filters.status || ""));
  navigate(`/invoices${query(filters)}`);
}

async function showList() {
  ui.invoiceView.hidden = true;
  ui.listView.hidden = false;
  document.title = "invoiceflow · invoices";
  const filters = filtersFromUrl();
  list.filters = filters;
  list.cursor = null;
  const generation = ++list.generation;
  fillFilterForm(filters);
  renderChips(filters, null);
  const exportQuery = (format) => `/api/invoices/export${query(filters, { format })}`;
  ui.exportCsv.href = exportQuery("csv");
  ui.exportJsonl.href = exportQuery("jsonl");
  ui.rows.replaceChildren();
  ui.listEmpty.hidden = true;
  ui.more.hidden = true;
  getJson(`/api/invoices/counts${query(withoutStatus(filters))}`)
    .then((counts) => generation === list.generation && renderChips(filters, counts))
    .catch((exc) => generation === list.generation && showMessage(`Counts: ${describe(exc)}`));
  await loadMore(generation);
}

async function loadMore(generation = list.generation) {
  if (list.loading === generation) return; // this list's next page is on its way already
  list.loading = generation;
  ui.more.disabled = true;
  try {
    const page = await getJson(`/api/invoices${query(list.filters, { limit: String(PAGE_SIZE), cursor: list.cursor || "" })}`);
    if (generation !== list.generation) return;
    showMessage("");
    ui.rows.append(...page.items.map((item) => listRow(item)));
    list.cursor = page.next_cursor;
    ui.more.hidden = !page.next_cursor;
    ui.listEmpty.hidden = ui.rows.children.length > 0;
    say(`${ui.rows.children.length} invoices shown${page.next_cursor ? ", more available" : ""}`);
  } catch (exc) {
    if (generation === list.generation) showMessage(`The invoices could not be loaded: ${describe(exc)}`);
  } finally {
    if (list.loading === generation) list.loading = null;
    ui.more.disabled = false;
  }
}

function statusBadge(status) {
  return el("span", { class: "badge", dataset: { status } }, STATUS_LABELS[status] || status);
}

function listRow(item) {
  const href = `/invoices/${item.invoice_id}${query(list.filters)}`;
  const link = el("a", { href, class: "open" }, item.vendor_name || item.filename || item.invoice_id);
  link.addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(href);
  });
  const total = item.total ? `${item.total}${item.currency ? ` ${item.currency}` : ""}` : "—";
  const duplicate = item.duplicate_of
    ? el("span", { class: "dup", title: `duplicate of ${item.duplicate_of}` }, "Duplicate")
    : el("span", { class: "muted" }, "—");
  return el(
    "tr",
    { dataset: { invoiceId: item.invoice_id, status: item.status } },
    el("td", {}, statusBadge(item.status)),
    el("td", {}, link),
    el("td", {}, item.invoice_number || "—"),
    el("td", {}, item.invoice_date || "—"),
    el("td", { class: "num" }, total),
    el("td", {}, duplicate),
  );
}

// ---------------------------------------------------------------------------------------------
// One invoice.

const view = {
  saved: null, // the saved invoice as last read
  edits: new Map(), // field path -> the reviewer's value, kept across checks and conflicts
  current: null, // the field path last focused or hovered
  checked: null, // the last /check answer for the edits as they were then
  queue: { filters: {}, ids: [], cursor: null, done: false },
  busy: false,
};

function queueFilters() {
  const filters = filtersFromUrl();
  return Object.keys(filters).length ? filters : { status: "needs_review" };
}

async function showInvoice(invoiceId) {
  ui.listView.hidden = true;
  ui.invoiceView.hidden = false;
  ui.back.href = `/invoices${query(filtersFromUrl())}`;
  const filters = queueFilters();
  if (JSON.stringify(filters) !== JSON.stringify(view.queue.filters)) {
    view.queue = { filters, ids: [], cursor: null, done: false };
  }
  if (!view.saved || view.saved.invoice_id !== invoiceId) {
    view.edits = new Map();
    view.checked = null;
    ui.comment.value = "";
  }
  ui.conflict.hidden = true;
  ui.checkResult.hidden = true;
  ui.exportMessage.textContent = "";
  ui.invoiceView.setAttribute("aria-busy", "true");
  let saved;
  try {
    saved = await fetchInvoice(invoiceId);
  } catch (exc) {
    ui.invoiceView.removeAttribute("aria-busy");
    showMessage(`The invoice could not be loaded: ${describe(exc)}`);
    return;
  }
  invoiceCache.delete(invoiceId); // preloaded once; the next visit reads it afresh
  showMessage("");
  render(saved);
  ui.invoiceView.removeAttribute("aria-busy");
  ui.heading.focus({ preventScroll: true });
  await updateQueuePosition();
  preloadNext();
}

function render(saved) {
  view.saved = saved;
  const invoice = saved.invoice;
  document.title = `invoiceflow · ${invoice.invoice_number || saved.invoice_id}`;
  ui.heading.textContent = `${invoice.vendor.name || "Unknown vendor"} · ${invoice.invoice_number || saved.filename}`;
  ui.heading.tabIndex = -1;
  ui.invoiceView.dataset.invoiceId = saved.invoice_id;
  ui.invoiceView.dataset.version = String(saved.version);
  ui.invoiceStatus.replaceWith((ui.invoiceStatus = statusBadge(saved.status)));
  ui.invoiceStatus.id = "invoice-status";
  renderPages(saved);
  renderFields(saved);
  renderTrail(saved.reviews || []);
  showFindings(saved.validation.issues || []);
  refreshEditedMarks();
}

// --- pages and evidence boxes ---

async function renderPages(saved) {
  const invoiceId = saved.invoice_id;
  ui.pages.replaceChildren();
  const evidence = saved.evidence || {};
  for (let n = 1; n <= MAX_PAGES; n += 1) {
    let url;
    try {
      url = await pageUrl(invoiceId, n);
    } catch (exc) {
      ui.pages.append(el("p", { class: "hint" }, `Page ${n} could not be shown: ${describe(exc)}`));
      break;
    }
    if (view.saved.invoice_id !== invoiceId) return; // moved on meanwhile
    if (url == null) {
      if (n === 1) ui.pages.append(el("p", { class: "hint" }, "This document has no pages to show (an XML e-invoice)."));
      break;
    }
    const image = el("img", { src: url, alt: `Page ${n} of ${saved.filename}`, class: "page-image" });
    const boxes = el("div", { class: "boxes" });
    const page = el("figure", { class: "page", dataset: { page: String(n) } }, el("div", { class: "page-frame" }, image, boxes), el("figcaption", {}, `Page ${n}`));
    for (const [path, found] of Object.entries(evidence)) {
      if ((found.page || 1) !== n || !Array.isArray(found.bbox)) continue;
      const [x0, y0, x1, y1] = found.bbox;
      const box = el("button", {
        type: "button",
        class: "box",
        tabIndex: -1,
        title: `${path}: ${found.text || ""}`,
        "aria-label": `Go to ${path}`,
        dataset: { path },
      });
      Object.assign(box.style, {
        left: `${x0 * 100}%`,
        top: `${y0 * 100}%`,
        width: `${Math.max(0, x1 - x0) * 100}%`,
        height: `${Math.max(0, y1 - y0) * 100}%`,
      });
      box.addEventListener("click", () => focusField(path));
      boxes.append(box);
    }
    ui.pages.append(page);
  }
  if (view.current) highlight(view.current);
}

function highlight(path) {
  view.current = path;
  for (const box of $$(".box.active", ui.pages)) box.classList.remove("active");
  for (const row of $$(".field.current, td.current", ui.fields)) row.classList.remove("current");
  const holder = fieldHolder(path);
  if (holder) holder.classList.add("current");
  const box = $(`.box[data-path="${CSS.escape(path)}"]`, ui.pages);
  if (box) {
    box.classList.add("active");
    const frame = box.closest(".page");
    const rect = box.getBoundingClientRect();
    if (frame && (rect.bottom < 0 || rect.top > innerHeight)) box.scrollIntoView({ block: "nearest", inline: "nearest" });
  }
  ui.pages.dataset.active = box ? path : "";
}

function fieldHolder(path) {
  return $(`[data-path="${CSS.escape(path)}"]`, ui.fields);
}

function focusField(path) {
  const holder = fieldHolder(path);
  if (!holder) return;
  const input = holder.matches("input, select") ? holder : $("input, select", holder);
  (input || holder).focus();
  highlight(path);
}

// --- fields ---

function valueAt(invoice, path) {
  const match = /^(\w+)\[(\d+)\]\.(\w+)$/.exec(path);
  if (match) {
    const item = (invoice[match[1]] || [])[Number(match[2])];
    return item ? item[match[3]] : null;
  }
  const [head, tail] = path.split(".");
  return tail ? (invoice[head] || {})[tail] : invoice[head];
}

function inputFor(path, label, kind, choices, value) {
  const id = `field-${path.replace(/[^\w]/g, "-")}`;
  const shown = view.edits.has(path) ? view.edits.get(path) : value == null ? "" : String(value);
  let input;
  if (kind === "choice") {
    input = el("select", { id }, el("option", { value: "" }, "—"), ...choices.map((c) => el("option", { value: c }, c.replace("_", " "))));
    input.value = shown;
  } else {
    input = el("input", { id, type: kind === "date" ? "date" : "text", value: shown, autocomplete: "off", spellcheck: false });
    if (kind === "money") {
      input.inputMode = "decimal";
      input.placeholder = "0.00";
    }
    if (kind === "currency") {
      input.maxLength = 3;
      input.placeholder = "EUR";
      input.classList.add("currency");
    }
  }
  input.dataset.path = path;
  input.dataset.kind = kind;
  input.dataset.saved = value == null ? "" : String(value);
  if (label) input.setAttribute("aria-label", label);
  input.addEventListener("input", () => edited(input));
  input.addEventListener("change", () => edited(input));
  return input;
}

function problemOf(input) {
  const value = input.value.trim();
  if (!value) return "";
  if (input.dataset.kind === "money" && !MONEY.test(value)) return "a decimal number like 193.00 (a point, no thousands separator)";
  if (input.dataset.kind === "currency" && !CURRENCY.test(value)) return "a three-letter ISO 4217 code like EUR";
  if (input.dataset.kind === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return "a date";
  return "";
}

function edited(input) {
  if (input.dataset.kind === "currency") {
    const upper = input.value.toUpperCase();
    if (upper !== input.value) input.value = upper;
  }
  const path = input.dataset.path;
  if (input.value === input.dataset.saved) view.edits.delete(path);
  else view.edits.set(path, input.value);
  const problem = problemOf(input);
  input.setAttribute("aria-invalid", problem ? "true" : "false");
  const note = $(`#${input.id}-problem`);
  if (note) {
    note.textContent = problem ? `Expected ${problem}.` : "";
    note.hidden = !problem;
  }
  view.checked = null;
  refreshEditedMarks();
  if (input.closest("tr")) updateLineChecks();
}

function refreshEditedMarks() {
  for (const input of $$("[data-path][data-kind]", ui.fields)) {
    const holder = input.closest(".field, td");
    if (holder) holder.classList.toggle("edited", view.edits.has(input.dataset.path));
  }
  const count = view.edits.size;
  ui.fields.dataset.edits = String(count);
  ui.check.textContent = count ? `Check (${count} edited)` : "Check";
}

function confidenceText(saved, path) {
  const value = saved.confidence ? saved.confidence[path] : undefined;
  if (typeof value !== "number") return null;
  const low = value < (saved.confidence_threshold ?? 0.8);
  return el("span", { class: `confidence${low ? " low" : ""}`, title: "confidence of the extraction" }, `${Math.round(value * 100)} %${low ? " (low)" : ""}`);
}

function renderFields(saved) {
  const invoice = saved.invoice;
  ui.groups.replaceChildren(
    ...GROUPS.map((group) =>
      el(
        "fieldset",
        { class: "group" },
        el("legend", {}, group.title),
        ...group.fields.map(([path, label, kind, choices]) => fieldRow(saved, path, label, kind, choices, valueAt(invoice, path))),
      ),
    ),
  );
  renderTable(ui.lineItems, "line_items", LINE_COLUMNS, invoice.line_items || [], "Line", true);
  renderTable(ui.taxDetails, "tax_details", TAX_COLUMNS, invoice.tax_details || [], "Tax", false);
  updateLineChecks();
}

function fieldRow(saved, path, label, kind, choices, value) {
  const input = inputFor(path, null, kind, choices, value);
  const evidence = (saved.evidence || {})[path];
  const row = el(
    "div",
    { class: "field", dataset: { path }, tabIndex: -1 },
    el("label", { for: input.id }, label),
    input,
    el("span", { class: "meta" }, confidenceText(saved, path), evidence && evidence.bbox ? el("span", { class: "has-box", title: `printed as “${evidence.text || ""}”` }, `p. ${evidence.page}`) : null),
    el("p", { class: "problem", id: `${input.id}-problem`, hidden: true, role: "alert" }),
    el("ul", { class: "findings", dataset: { for: path } }),
  );
  input.setAttribute("aria-describedby", `${input.id}-problem`);
  watch(row, path);
  return row;
}

function watch(holder, path) {
  holder.addEventListener("mouseenter", () => highlight(path));
  holder.addEventListener("focusin", () => highlight(path));
}

function renderTable(table, name, columns, rows, rowLabel, withCheck) {
  const head = el("tr", {}, el("th", { scope: "col" }, "#"), ...columns.map(([, label]) => el("th", { scope: "col" }, label)), withCheck ? el("th", { scope: "col" }, "Check") : null);
  const body = rows.map((row, index) =>
    el(
      "tr",
      { dataset: { index: String(index) } },
      el("th", { scope: "row" }, String(index + 1)),
      ...columns.map(([key, label, kind]) => {
        const path = `${name}[${index}].${key}`;
        const input = inputFor(path, `${rowLabel} ${index + 1} ${label}`, kind, null, row[key]);
        input.id = `field-${name}-${index}-${key}`;
        const cell = el("td", { dataset: { path }, tabIndex: -1 }, input, el("p", { class: "problem", id: `${input.id}-problem`, hidden: true, role: "alert" }));
        watch(cell, path);
        return cell;
      }),
      withCheck ? el("td", { class: "line-check", dataset: { index: String(index) } }) : null,
    ),
  );
  const empty = rows.length ? null : el("tr", {}, el("td", { colSpan: columns.length + 2, class: "hint" }, "None printed."));
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body, empty));
  table.dataset.name = name;
}

/** quantity × unit price against the amount, per line, as typed now (cents, to avoid float noise). */
function updateLineChecks() {
  for (const cell of $$(".line-check", ui.lineItems)) {
    const index = cell.dataset.index;
    const read = (key) => {
      const input = $(`input[data-path="line_items[${index}].${key}"]`, ui.lineItems);
      const value = input ? input.value.trim() : "";
      return value && MONEY.test(value) ? Number(value) : null;
    };
    const [quantity, price, amount] = [read("quantity"), read("unit_price"), read("amount")];
    if (quantity == null || price == null || amount == null) {
      cell.textContent = "—";
      cell.dataset.ok = "";
      continue;
    }
    const product = Math.round(quantity * price * 100) / 100;
    const ok = Math.abs(product - amount) <= 0.01 + 1e-9;
    cell.dataset.ok = ok ? "true" : "false";
    cell.textContent = ok ? `✓ ${product.toFixed(2)}` : `✗ ${quantity} × ${price} = ${product.toFixed(2)}`;
    cell.title = ok ? "quantity × unit price = amount" : `quantity × unit price is ${product.toFixed(2)}, not ${amount}`;
  }
}

// --- findings ---

function showFindings(issues) {
  for (const list of $$("ul.findings[data-for]", ui.fields)) list.replaceChildren();
  for (const cell of $$(".has-finding", ui.fields)) cell.classList.remove("has-finding");
  const items = issues.map((issue) => {
    const item = el(
      "li",
      { dataset: { code: issue.code || "", severity: issue.severity || "", field: issue.field || "" } },
      el("span", { class: "severity" }, issue.severity || "note"),
      " ",
      el("code", {}, issue.code || ""),
      " ",
      issue.field ? el("a", { href: "#", class: "field-link" }, issue.field) : null,
      issue.field ? ": " : "",
      issue.message || "",
    );
    const link = $(".field-link", item);
    if (link) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        focusField(issue.field);
      });
    }
    // A low confidence is shown by the field's confidence already; the summary lists it too.
    const own = issue.field && issue.code !== "low_confidence" && $(`ul.findings[data-for="${CSS.escape(issue.field)}"]`, ui.fields);
    if (own) own.append(el("li", { dataset: { code: issue.code, severity: issue.severity } }, el("span", { class: "severity" }, issue.severity), ` ${issue.message}`));
    const holder = issue.field && fieldHolder(issue.field);
    if (holder) holder.classList.add("has-finding");
    return item;
  });
  ui.allFindings.replaceChildren(...(items.length ? items : [el("li", { class: "none" }, "No findings.")]));
  ui.allFindings.dataset.count = String(issues.length);
}

// --- corrections, check, review ---

function invalidInputs() {
  return $$("[data-path][data-kind]", ui.fields).filter((input) => problemOf(input));
}

function asValue(text) {
  const value = text.trim();
  return value === "" ? null : value;
}

/** The corrections of the edits: scalar fields by path, changed tables whole (`line_items`). */
function corrections() {
  const found = {};
  const tables = new Set();
  for (const [path, text] of view.edits) {
    const match = /^(\w+)\[\d+\]\./.exec(path);
    if (match) tables.add(match[1]);
    else found[path] = asValue(text);
  }
  for (const name of tables) {
    const rows = (view.saved.invoice[name] || []).map((row) => ({ ...row }));
    rows.forEach((row, index) => {
      for (const key of Object.keys(row)) {
        const path = `${name}[${index}].${key}`;
        if (view.edits.has(path)) row[key] = asValue(view.edits.get(path));
      }
    });
    found[name] = rows;
  }
  return found;
}

function refuseBadInputs() {
  const bad = invalidInputs();
  if (!bad.length) return false;
  showMessage(`Fix ${bad.length === 1 ? "this field" : `these ${bad.length} fields`} first: ${bad.map((i) => i.dataset.path).join(", ")}.`);
  bad[0].focus();
  return true;
}

async function runCheck() {
  if (!view.saved || view.busy || refuseBadInputs()) return;
  view.busy = true;
  ui.check.disabled = true;
  try {
    const answer = await postJson(`/api/invoices/${view.saved.invoice_id}/check`, { corrections: corrections() });
    view.checked = answer;
    showMessage("");
    showFindings(answer.validation.issues || []);
    const status = answer.validation.status;
    const errors = (answer.validation.issues || []).filter((i) => i.severity === "error").length;
    ui.checkResult.dataset.status = status;
    ui.checkResult.textContent = `Checked with your ${view.edits.size} edit${view.edits.size === 1 ? "" : "s"}: ${STATUS_LABELS[status] || status}, ${answer.validation.issues.length} finding${answer.validation.issues.length === 1 ? "" : "s"}${errors ? ` (${errors} error${errors === 1 ? "" : "s"}: correct ${errors === 1 ? "it" : "them"} or reject)` : ""}. Nothing is saved yet.`;
    ui.checkResult.hidden = false;
    say(ui.checkResult.textContent);
  } catch (exc) {
    showMessage(`Check failed: ${describe(exc)}`);
  } finally {
    view.busy = false;
    ui.check.disabled = false;
  }
}

function reviewerName() {
  const name = ui.reviewer.value.trim();
  if (name) return name;
  ui.settings.open = true;
  showMessage("Enter your name under Settings: it is recorded with the review.");
  ui.reviewer.focus();
  return null;
}

async function review(decision, thenNext = false) {
  if (!view.saved || view.busy || refuseBadInputs()) return;
  const reviewer = reviewerName();
  if (!reviewer) return;
  const saved = view.saved;
  const body = {
    decision,
    reviewer,
    corrections: corrections(),
    expected_version: saved.version,
  };
  const note = ui.comment.value.trim();
  if (note) body.note = note;
  view.busy = true;
  setReviewButtons(true);
  try {
    const after = await postJson(`/api/invoices/${saved.invoice_id}/review`, body);
    invoiceCache.set(after.invoice_id, Promise.resolve(after));
    view.edits = new Map();
    view.checked = null;
    ui.comment.value = "";
    showMessage("");
    ui.checkResult.hidden = true;
    say(`${decision === "approve" ? "Approved" : "Rejected"} by ${reviewer}.`);
    if (thenNext && (await goNext(1, true))) return;
    render(after);
  } catch (exc) {
    if (exc.code === "version_conflict") await showConflict();
    else if (exc.code === "invoice_invalid" && exc.body.issues) {
      showFindings(exc.body.issues);
      showMessage(`Not approved: ${exc.message}`);
    } else showMessage(`The review was not saved: ${describe(exc)}`);
  } finally {
    view.busy = false;
    setReviewButtons(false);
  }
}

function setReviewButtons(disabled) {
  for (const button of [ui.approve, ui.approveNext, ui.reject, ui.check]) button.disabled = disabled;
}

function shown(value) {
  if (value == null || value === "") return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

async function showConflict() {
  const mine = view.saved;
  let theirs;
  try {
    theirs = await fetchInvoice(mine.invoice_id, true);
  } catch (exc) {
    showMessage(`Someone else changed this invoice, and it could not be read again: ${describe(exc)}. Your edits are kept.`);
    return;
  }
  const last = (theirs.reviews || []).at(-1);
  ui.conflictText.textContent =
    `${last ? `${last.reviewer} ${last.decision === "approve" ? "approved" : "rejected"} it` : "It was changed"} ` +
    `(version ${theirs.version}, status ${STATUS_LABELS[theirs.status] || theirs.status}) while you had version ${mine.version} open. ` +
    "Nothing of yours was saved, and your edits are still in the fields.";
  const paths = new Set([...view.edits.keys(), ...(last ? last.changes.map((c) => c.field) : [])]);
  const rows = [
    el("tr", { dataset: { field: "status" } }, el("th", { scope: "row" }, "status"), el("td", {}, STATUS_LABELS[theirs.status] || theirs.status), el("td", {}, "(your decision)")),
  ];
  for (const path of paths) {
    const yours = view.edits.has(path) ? view.edits.get(path) : valueAt(mine.invoice, path);
    const theirsValue = /^\w+$/.test(path) || /^\w+\.\w+$/.test(path) || /\[\d+\]\./.test(path) ? valueAt(theirs.invoice, path) : null;
    rows.push(
      el(
        "tr",
        { dataset: { field: path }, class: shown(yours) === shown(theirsValue) ? "same" : "differs" },
        el("th", { scope: "row" }, path),
        el("td", { class: "theirs" }, shown(theirsValue)),
        el("td", { class: "yours" }, shown(yours)),
      ),
    );
  }
  ui.conflictRows.replaceChildren(...rows);
  ui.conflict.dataset.theirVersion = String(theirs.version);
  ui.conflict.hidden = false;
  view.theirs = theirs;
  showMessage("Not saved: someone else reviewed this invoice first. Compare below, then re-apply your edits or discard them.");
  ui.conflict.focus();
}

/** Your edits on top of their version: the fields show theirs where you did not edit. */
function reapply() {
  if (!view.theirs) return;
  const edits = view.edits;
  render(view.theirs);
  view.edits = edits;
  // render() filled the inputs from `view.edits` already; re-derive the marks and problems.
  for (const input of $$("[data-path][data-kind]", ui.fields)) if (edits.has(input.dataset.path)) edited(input);
  ui.conflict.hidden = true;
  view.theirs = null;
  showMessage("");
  say(`Your ${edits.size} edits are on version ${view.saved.version}: check, then approve or reject again.`);
  ui.check.focus();
}

function discard() {
  if (!view.theirs) return;
  view.edits = new Map();
  render(view.theirs);
  ui.conflict.hidden = true;
  view.theirs = null;
  showMessage("");
  ui.heading.focus();
}

// --- the trail ---

function renderTrail(reviews) {
  ui.trailEmpty.hidden = reviews.length > 0;
  ui.trail.replaceChildren(
    ...reviews.map((entry) => {
      const when = new Date(entry.created_at);
      const changes = entry.changes.length
        ? el("ul", { class: "changes" }, ...entry.changes.map((change) => el("li", {}, el("code", {}, change.field), ": ", el("del", {}, shown(change.old)), " → ", el("ins", {}, shown(change.new)))))
        : el("p", { class: "hint" }, "No field changed.");
      return el(
        "li",
        { dataset: { decision: entry.decision } },
        el("p", {}, el("strong", {}, entry.reviewer), ` ${entry.decision === "approve" ? "approved" : "rejected"} · `, el("time", { dateTime: entry.created_at }, when.toLocaleString()), ` · ${STATUS_LABELS[entry.status_before] || entry.status_before} → ${STATUS_LABELS[entry.status_after] || entry.status_after}`),
        entry.note ? el("blockquote", {}, entry.note) : null,
        changes,
      );
    }),
  );
}

// --- exports of one invoice ---

async function exportOne(format) {
  if (!view.saved) return;
  ui.exportMessage.textContent = "";
  ui.exportMessage.dataset.code = "";
  try {
    await download(`/api/invoices/${view.saved.invoice_id}/export?format=${format}`, `${view.saved.invoice_id}.${format === "json" ? "json" : "xml"}`);
    ui.exportMessage.textContent = `${format.toUpperCase()} downloaded.`;
  } catch (exc) {
    ui.exportMessage.dataset.code = exc.code;
    const missing = exc.body && Array.isArray(exc.body.missing) ? exc.body.missing : null;
    ui.exportMessage.textContent = missing
      ? `Not exportable as ${format.toUpperCase()}: missing ${missing.join(", ")}.`
      : `Export failed: ${describe(exc)}`;
  }
}

// --- the queue ---

async function loadQueue() {
  const queue = view.queue;
  if (queue.done) return false;
  const page = await getJson(`/api/invoices${query(queue.filters, { limit: String(PAGE_SIZE), cursor: queue.cursor || "" })}`);
  for (const item of page.items) if (!queue.ids.includes(item.invoice_id)) queue.ids.push(item.invoice_id);
  queue.cursor = page.next_cursor;
  queue.done = !page.next_cursor;
  return page.items.length > 0;
}

/** The id `step` places from the current invoice in the queue (loading pages as needed). */
async function queueNeighbour(step) {
  const queue = view.queue;
  const id = view.saved && view.saved.invoice_id;
  if (!queue.ids.length && !queue.done) await loadQueue();
  let index = queue.ids.indexOf(id);
  while (index === -1 && !queue.done) {
    await loadQueue();
    index = queue.ids.indexOf(id);
  }
  let target = index === -1 ? (step > 0 ? 0 : -1) : index + step;
  while (step > 0 && target >= queue.ids.length && !queue.done) await loadQueue();
  if (target < 0 || target >= queue.ids.length) return null;
  if (queue.ids[target] === id) target += step;
  return queue.ids[target] || null;
}

async function updateQueuePosition() {
  try {
    if (!view.queue.ids.length) await loadQueue();
  } catch {
    return;
  }
  const index = view.queue.ids.indexOf(view.saved.invoice_id);
  const name = view.queue.filters.status ? STATUS_LABELS[view.queue.filters.status] || view.queue.filters.status : "the list";
  ui.queuePosition.textContent = index === -1 ? `not in ${name}` : `${index + 1} of ${view.queue.ids.length}${view.queue.done ? "" : "+"} in ${name}`;
}

async function preloadNext() {
  try {
    const next = await queueNeighbour(1);
    if (!next) return;
    const saved = await fetchInvoice(next);
    const url = await pageUrl(next, 1);
    if (url) {
      const image = new Image();
      image.src = url; // decoded ahead of time
    }
    ui.next.dataset.preloaded = saved.invoice_id;
  } catch {
    // Preloading is a nicety: the next invoice loads when asked for.
  }
}

async function goNext(step = 1, afterReview = false) {
  let target;
  try {
    target = await queueNeighbour(step);
  } catch (exc) {
    showMessage(`The queue could not be read: ${describe(exc)}`);
    return false;
  }
  if (!target) {
    say(step > 0 ? "That was the last invoice of the queue." : "This is the first invoice of the queue.");
    if (afterReview) showMessage("Saved. That was the last invoice of the queue.");
    return false;
  }
  navigate(`/invoices/${target}${location.search}`);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Keyboard.

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function fieldOrder() {
  return $$("[data-path][data-kind]", ui.fields).map((input) => input.dataset.path);
}

// The field that has the keyboard focus (not the one the mouse last passed over: a scroll
// under a resting pointer moves that one too).
function focusedPath() {
  if (!ui.fields.contains(document.activeElement)) return null;
  const holder = document.activeElement.closest("[data-path]");
  return holder ? holder.dataset.path : null;
}

function moveField(step) {
  const order = fieldOrder();
  if (!order.length) return;
  // From outside the fields (the heading, a button), j starts at the first field.
  const focused = focusedPath();
  const index = focused === null ? -1 : order.indexOf(focused);
  const next = order[Math.max(0, Math.min(order.length - 1, index === -1 ? 0 : index + step))];
  const holder = fieldHolder(next);
  if (holder) {
    (holder.closest(".field") || holder).focus();
    highlight(next);
    holder.scrollIntoView({ block: "nearest" });
  }
}

function moveRow(step) {
  const rows = $$("tr", ui.rows);
  if (!rows.length) return;
  const links = rows.map((row) => $("a.open", row));
  const index = links.indexOf(document.activeElement);
  const target = links[Math.max(0, Math.min(links.length - 1, index === -1 ? 0 : index + step))];
  target.focus();
}

function openHelp() {
  if (!ui.help.open) ui.help.showModal();
  ui.helpClose.focus();
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (ui.help.open) return; // the dialog handles Esc itself
  if (typing(event.target)) {
    if (event.key === "Escape") {
      // Out of the text box, onto its field: j/k and the other keys work again.
      const holder = event.target.closest(".field, td[data-path]");
      event.target.blur();
      if (holder) holder.focus();
      event.preventDefault();
    }
    return;
  }
  const inInvoice = !ui.invoiceView.hidden;
  const key = event.key;
  const actions = {
    "?": openHelp,
    "/": () => {
      if (inInvoice) navigate(ui.back.getAttribute("href"));
      ui.vendor.focus();
    },
    q: () => navigate(`/invoices${query({ status: "needs_review" })}`),
    Escape: () => inInvoice && navigate(ui.back.getAttribute("href")),
  };
  if (inInvoice) {
    Object.assign(actions, {
      j: () => moveField(1),
      k: () => moveField(-1),
      e: () => focusField(focusedPath() || view.current || fieldOrder()[0]),
      c: runCheck,
      a: () => review("approve"),
      A: () => review("approve", true),
      r: () => review("reject"),
      n: () => goNext(1),
      p: () => goNext(-1),
      m: () => ui.comment.focus(),
    });
  } else {
    Object.assign(actions, { j: () => moveRow(1), k: () => moveRow(-1) });
  }
  const action = actions[key];
  if (!action) return;
  event.preventDefault();
  action();
});

// ---------------------------------------------------------------------------------------------
// Wiring.

function route() {
  const match = /^\/invoices\/(inv_[0-9a-f]{32})\/?$/.exec(location.pathname);
  if (match) showInvoice(match[1]);
  else showList();
}

ui.filters.addEventListener("submit", (event) => {
  event.preventDefault();
  applyFilters();
});
ui.more.addEventListener("click", () => loadMore());
for (const link of [ui.exportCsv, ui.exportJsonl]) {
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    try {
      await download(link.getAttribute("href"), `invoices.${link === ui.exportCsv ? "csv" : "jsonl"}`);
    } catch (exc) {
      showMessage(`Export failed: ${describe(exc)}`);
    }
  });
}
ui.back.addEventListener("click", (event) => {
  event.preventDefault();
  navigate(ui.back.getAttribute("href"));
});
$("#home-link").addEventListener("click", (event) => {
  event.preventDefault();
  navigate("/invoices");
});
ui.check.addEventListener("click", runCheck);
ui.approve.addEventListener("click", () => review("approve"));
ui.approveNext.addEventListener("click", () => review("approve", true));
ui.reject.addEventListener("click", () => review("reject"));
ui.next.addEventListener("click", () => goNext(1));
ui.reapply.addEventListener("click", reapply);
ui.discard.addEventListener("click", discard);
for (const button of $$(".export-one")) button.addEventListener("click", () => exportOne(button.dataset.format));
ui.pages.addEventListener("mouseleave", () => view.current && highlight(view.current));

ui.shortcutList.replaceChildren(...SHORTCUTS.flatMap(([keys, text]) => [el("dt", {}, ...keys.split(" / ").flatMap((k, i) => (i ? [" / ", el("kbd", {}, k)] : [el("kbd", {}, k)]))), el("dd", {}, text)]));
ui.helpButton.addEventListener("click", openHelp);
ui.helpClose.addEventListener("click", () => ui.help.close());
// The close event comes a task after the dialog closed: a key pressed meanwhile (j) may have
// put the focus somewhere already, and keeps it.
ui.help.addEventListener("close", () => {
  const active = document.activeElement;
  if (!active || active === document.body || ui.help.contains(active)) ui.helpButton.focus();
});

keepStored(ui.apiKey, () => sessionStorage, API_KEY_STORAGE, () => {
  pageCache.clear();
  invoiceCache.clear();
  route();
});
keepStored(ui.reviewer, () => localStorage, REVIEWER_STORAGE);
if (!ui.reviewer.value) ui.settings.open = true;

window.addEventListener("popstate", route);
route();
