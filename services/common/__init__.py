"""Broker plumbing shared by the worker services. A library, not a service: it has no
`__main__`, holds no business logic and imports no service. Business contracts live in
`contracts/`; this package holds the JetStream mechanics every worker needs the same way:
stream and consumer declaration, the exactly-once progress log, and the stage runner with
heartbeats, bounded retries and dead-lettering."""
