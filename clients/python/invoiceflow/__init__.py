"""invoiceflow's Python SDK: `Client` and `AsyncClient` for a gateway (see the README)."""

from invoiceflow.client import DEFAULT_URL, AsyncClient
from invoiceflow.errors import (
    GatewayUnreachable,
    InvalidInput,
    InvoiceflowError,
    TaskFailed,
    WaitTimeout,
)
from invoiceflow.models import InvoicePage, Options, Task
from invoiceflow.sync import Client
from invoiceflow.watch import Backoff

__all__ = [
    "DEFAULT_URL",
    "AsyncClient",
    "Backoff",
    "Client",
    "GatewayUnreachable",
    "InvalidInput",
    "InvoicePage",
    "InvoiceflowError",
    "Options",
    "Task",
    "TaskFailed",
    "WaitTimeout",
]
