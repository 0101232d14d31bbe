-- Review flow, duplicate detection and the list filters of GET /api/invoices.

-- "" is the tenant of an open (keyless) deployment, so every tenant lookup is one equality.
UPDATE invoices SET tenant = '' WHERE tenant IS NULL;
ALTER TABLE invoices
    ALTER COLUMN tenant SET DEFAULT '',
    ALTER COLUMN tenant SET NOT NULL;

ALTER TABLE invoices
    -- Normalised vendor name and invoice number: what duplicates and the vendor filter compare.
    ADD COLUMN vendor_key           text NOT NULL DEFAULT '',
    ADD COLUMN number_key           text NOT NULL DEFAULT '',
    ADD COLUMN customer_name        text,
    ADD COLUMN total_discount       numeric(18, 4),
    ADD COLUMN shipping             numeric(18, 4),
    ADD COLUMN amount_paid          numeric(18, 4),
    ADD COLUMN amount_due           numeric(18, 4),
    -- The validation status until a person decides; then approved or rejected.
    ADD COLUMN status               text,
    ADD COLUMN review_status        text CHECK (review_status IN ('approved', 'rejected')),
    ADD COLUMN reviewed_at          timestamptz,
    ADD COLUMN duplicate_of         text REFERENCES invoices (id),
    ADD COLUMN confidence_threshold numeric NOT NULL DEFAULT 0.8,
    -- Bumped by every change, so a review based on a stale copy is refused.
    ADD COLUMN version              integer NOT NULL DEFAULT 1,
    ADD COLUMN updated_at           timestamptz NOT NULL DEFAULT now();

-- Rows saved before this migration: keys close to what the persister computes now.
UPDATE invoices SET
    status = validation_status,
    vendor_key = lower(regexp_replace(
        regexp_replace(
            coalesce(vendor_name, ''),
            '[[:space:],]+(ab|ag|as|bhd|bv|co|company|corp|corporation|gmbh|inc|incorporated|kg'
            '|kft|llc|llp|ltd|limited|nv|oy|plc|pte|pty|sa|sarl|sas|sdn|sl|spa|srl|ug)[.[:space:]]*$',
            '',
            'i'
        ),
        '[^[:alnum:]]+', '', 'g'
    )),
    number_key = lower(regexp_replace(coalesce(invoice_number, ''), '[^[:alnum:]]+', '', 'g')),
    customer_name = data -> 'customer' ->> 'name',
    updated_at = created_at;
ALTER TABLE invoices ALTER COLUMN status SET NOT NULL;

DROP INDEX IF EXISTS invoices_tenant_status_idx;
DROP INDEX IF EXISTS invoices_tenant_vendor_idx;
CREATE INDEX invoices_tenant_status_idx ON invoices (tenant, status, created_at DESC, id DESC);
-- The vendor filter is a prefix of the normalised name.
CREATE INDEX invoices_tenant_vendor_idx ON invoices (tenant, vendor_key text_pattern_ops);
CREATE INDEX invoices_tenant_date_idx ON invoices (tenant, invoice_date);
CREATE INDEX invoices_tenant_number_idx ON invoices (tenant, vendor_key, number_key)
    WHERE number_key <> '';
CREATE INDEX invoices_duplicate_of_idx ON invoices (duplicate_of) WHERE duplicate_of IS NOT NULL;

-- The audit trail: one row per review, never updated.
CREATE TABLE invoice_reviews (
    id            text PRIMARY KEY,                  -- rev_<32 hex>
    invoice_id    text NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    reviewer      text NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('approve', 'reject')),
    changes       jsonb NOT NULL,                    -- [{"field", "old", "new"}]
    note          text,
    status_before text NOT NULL,
    status_after  text NOT NULL,
    validation    jsonb NOT NULL,                    -- the findings after the corrections
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX invoice_reviews_invoice_idx ON invoice_reviews (invoice_id, created_at);
