"""invoiceflow's Python SDK: `Client` and `AsyncClient` for a gateway (see the README)."""
