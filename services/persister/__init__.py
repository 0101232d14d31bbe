"""The persister service: stores validated invoices in PostgreSQL, once per task, and completes
the task."""
