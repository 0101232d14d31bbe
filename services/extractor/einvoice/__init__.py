"""Structured e-invoices (docs/einvoices.md): found (`attachments`), parsed safely (`xml`), read
into the invoice schema (`read`), checked against the standard (`standard`) and against the
visible PDF (`compare`); `reader` puts them together. Plain modules: nothing here knows NATS."""
