-- Structured e-invoices (docs/einvoices.md): the task's `result.einvoice` (syntax, BT-24
-- specification, embedded, the standard's findings), kept so that an export names the same
-- specification. JSON null for every other invoice.
ALTER TABLE invoices ADD COLUMN einvoice jsonb NOT NULL DEFAULT 'null'::jsonb;
