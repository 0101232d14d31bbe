-- Structured e-invoices (docs/einvoices.md): the task's `result.einvoice` (syntax, BT-24
-- specification, embedded, the standard's findings), kept so that an export names the same
-- specification; JSON null for every other invoice. And spec 6's `evidence` of a saved invoice:
-- where each extracted value was read ({} for invoices saved before).
ALTER TABLE invoices
    ADD COLUMN einvoice jsonb NOT NULL DEFAULT 'null'::jsonb,
    ADD COLUMN evidence jsonb NOT NULL DEFAULT '{}'::jsonb;
