"""The NATS JetStream library every service uses, the gateway included: declaring streams,
consumers and buckets, the progress log, blobs in the object store, work commands on the
wire and request-reply. A library, not a service: no `__main__`, no business rules."""
