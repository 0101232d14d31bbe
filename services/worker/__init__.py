"""The runtime every work stage shares: a FastStream worker on one durable pull consumer, the
runner that turns a stage handler's outcome into progress, the next command or the task's end,
and the handling of messages that ran out of deliveries. Stage logic sees only `handler.py`."""
