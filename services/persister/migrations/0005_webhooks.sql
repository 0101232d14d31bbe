-- Webhooks (spec 6): each tenant's registrations and every delivery of an event to one of them.

CREATE TABLE webhooks (
    id          text PRIMARY KEY,                   -- wh_<32 hex>
    tenant      text NOT NULL,                      -- "" in an open (keyless) deployment
    url         text NOT NULL,
    events      text[] NOT NULL,
    description text,
    -- Signs every delivery (HMAC-SHA256); shown to the client once, when it registers.
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant, created_at, id);

-- One row per (webhook, event); attempts update it. Deleted with its webhook.
CREATE TABLE webhook_deliveries (
    id               text PRIMARY KEY,              -- whd_<32 hex>, Invoiceflow-Webhook-Id
    webhook_id       text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant           text NOT NULL,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    next_attempt_at  timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (webhook_id, event_id);
-- The sweep for reviews whose invoice.reviewed deliveries were never queued reads recent ones.
CREATE INDEX invoice_reviews_created_idx ON invoice_reviews (created_at);
