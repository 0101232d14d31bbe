"""The gateway: the public HTTP API and the /ws endpoint of invoiceflow.

It accepts uploads into the object store, records each task in the tasks bucket, publishes
`ExtractInvoice`, and streams every stored progress update of a task to the sockets that
joined it. It holds no business logic and talks to the workers only through NATS.
"""
