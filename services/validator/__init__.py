"""The validator service: checks an extracted invoice (arithmetic, dates, currency, required
fields, confidence), then hands it to the persister or completes the task."""
