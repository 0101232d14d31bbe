"""Every Prometheus metric invoiceflow exports, declared once (one registry per process).

Labels are bounded: a step, a stage, an error code, a provider, a model the operator
configured (any other model a task names is counted as "other"), a dependency — never a task
id, a tenant or a filename.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds: from a fast stage (a few ms) to a slow model call (minutes).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Publish → socket: what a progress bar's user feels (milliseconds to a second).
DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

# --- tasks (gateway: accepted; the step that ends a task: completed / failed) -------------------
TASKS_ACCEPTED = Counter("invoiceflow_tasks_accepted_total", "Tasks the gateway accepted.")
TASKS_COMPLETED = Counter(
    "invoiceflow_tasks_completed_total",
    "Tasks that completed, by the step that ended them.",
    ["step"],
)
TASKS_FAILED = Counter(
    "invoiceflow_tasks_failed_total", "Tasks that ended in an error, by error code.", ["code"]
)

# --- work (workers) ----------------------------------------------------------------------------
STAGE_DURATION = Histogram(
    "invoiceflow_stage_duration_seconds",
    "Time from a stage's start to its completion.",
    ["stage"],
    buckets=DURATION_BUCKETS,
)
MESSAGES_IN_FLIGHT = Gauge(
    "invoiceflow_messages_in_flight", "Work messages this replica is working on.", ["consumer"]
)
CONSUMER_PENDING = Gauge(
    "invoiceflow_consumer_pending_messages",
    "Work waiting for a consumer: num_pending + num_ack_pending (what KEDA scales on).",
    ["consumer"],
)
REDELIVERIES = Counter(
    "invoiceflow_redeliveries_total",
    "Work messages handed back for another delivery after a failure.",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "invoiceflow_dead_letters_total", "Work messages dead-lettered with their task.", ["consumer"]
)
DEPENDENCY_UP = Gauge(
    "invoiceflow_dependency_up",
    "1 while a dependency (nats, postgres, model) answers, 0 while it does not.",
    ["dependency"],
)
DEPENDENCY_WAITS = Counter(
    "invoiceflow_dependency_waits_total",
    "Work messages held back, without spending a delivery, because a dependency was down.",
    ["dependency"],
)
DRAINING = Gauge("invoiceflow_draining", "1 once the replica has been told to stop.")

# --- the model (extractor) ---------------------------------------------------------------------
MODEL_CALLS = Counter(
    "invoiceflow_model_calls_total",
    "Extraction calls by provider, model and outcome (ok, or the error code).",
    ["provider", "model", "outcome"],
)
MODEL_TOKENS = Counter(
    "invoiceflow_model_tokens_total",
    "Tokens the model endpoint reported, by provider, model and kind (input, output).",
    ["provider", "model", "kind"],
)

# --- sockets and the store (gateway) -----------------------------------------------------------
SOCKETS_OPEN = Gauge("invoiceflow_sockets_open", "Open client sockets.", ["transport"])
FRAMES_SENT = Counter("invoiceflow_frames_sent_total", "Frames sent to sockets.", ["transport"])
SLOW_SOCKET_CLOSES = Counter(
    "invoiceflow_slow_socket_closes_total", "Sockets closed for falling too far behind."
)
PUBLISH_TO_SOCKET = Histogram(
    "invoiceflow_publish_to_socket_seconds",
    "From an update's timestamp to its frame being queued for a socket.",
    buckets=DELAY_BUCKETS,
)
STORE_REQUEST = Histogram(
    "invoiceflow_store_request_seconds",
    "Saved-invoice requests to the invoice store, by operation.",
    ["operation"],
    buckets=DURATION_BUCKETS,
)

OTHER_MODEL = "other"


def model_label(model: str | None, known: frozenset[str]) -> str:
    """A model name as a label: one the operator configured, else "other" (bounded)."""
    return model if model is not None and model in known else OTHER_MODEL
