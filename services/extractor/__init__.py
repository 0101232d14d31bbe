"""The extractor: fetches an uploaded document, normalises it into pages and extracts an invoice
with the chosen provider (`openai` or the offline `local` OCR), then hands it to the validator."""
