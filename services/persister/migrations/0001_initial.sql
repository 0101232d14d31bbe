-- Saved invoices: one row per task, the whole invoice as JSON plus the columns lists filter on.
CREATE TABLE invoices (
    id                text PRIMARY KEY,              -- inv_<32 hex>
    task_id           text NOT NULL UNIQUE,          -- one row per task, whatever is redelivered
    tenant            text,
    filename          text NOT NULL,
    file_sha256       text,
    document_type     text,
    invoice_number    text,
    invoice_date      date,
    due_date          date,
    currency          char(3),
    vendor_name       text,
    total             numeric(18, 4),
    subtotal          numeric(18, 4),
    total_tax         numeric(18, 4),
    validation_status text NOT NULL,
    provider          text NOT NULL,
    data              jsonb NOT NULL,                -- the whole invoice (spec section 4)
    confidence        jsonb NOT NULL DEFAULT '{}'::jsonb,
    validation        jsonb NOT NULL,
    usage             jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Listing newest first per tenant, with a stable tie-break for cursors.
CREATE INDEX invoices_tenant_created_idx ON invoices (tenant, created_at DESC, id DESC);
CREATE INDEX invoices_tenant_status_idx ON invoices (tenant, validation_status, created_at DESC);
CREATE INDEX invoices_tenant_vendor_idx ON invoices (tenant, vendor_name);
-- Duplicate detection looks files up by content hash.
CREATE INDEX invoices_tenant_sha256_idx ON invoices (tenant, file_sha256);

CREATE TABLE invoice_line_items (
    invoice_id   text NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position     integer NOT NULL,                   -- 1-based, in document order
    description  text,
    quantity     numeric,
    unit         text,
    unit_price   numeric,
    tax_rate     numeric,
    amount       numeric,
    product_code text,
    PRIMARY KEY (invoice_id, position)
);
