"""What the tests and the benchmarks both need: the stack as separate processes
(`stack.py`), a client written from the public contract alone (`contract_client.py`), and
documents made in code (`documents.py`). Not shipped; nothing in services/ imports it."""
