"""The extraction cache on a real nats-server: hits, misses, keys, and failures that are misses."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from contracts import Extraction, Invoice, Usage
from services.extractor.adapters import KeyValueCache
from services.extractor.cache import NoCache, cache_key, reused
from services.messaging.jetstream import extractions_bucket

SHA = "ab" * 32


def extraction(total: str = "12.50") -> Extraction:
    return Extraction(
        invoice=Invoice(total=total),
        provider="openai",
        model="gpt-4o-mini",
        usage=Usage(input_tokens=900, output_tokens=120),
    )


def cache_on(js: JetStreamContext) -> KeyValueCache:
    return KeyValueCache(lambda: extractions_bucket(js))


async def test_a_stored_extraction_comes_back(js: JetStreamContext) -> None:
    cache = cache_on(js)
    await cache.put(SHA, "openai", "gpt-4o-mini", extraction())

    assert await cache.get(SHA, "openai", "gpt-4o-mini") == extraction()


async def test_other_files_providers_and_models_miss(js: JetStreamContext) -> None:
    cache = cache_on(js)
    await cache.put(SHA, "openai", "gpt-4o-mini", extraction())

    assert await cache.get("cd" * 32, "openai", "gpt-4o-mini") is None
    assert await cache.get(SHA, "local", "gpt-4o-mini") is None
    assert await cache.get(SHA, "openai", "gpt-4o") is None


def test_keys_are_valid_for_any_model_name() -> None:
    key = cache_key(SHA, "openai", "llama3.2:latest/vision v2")
    assert key.startswith(SHA + ".")
    assert all(c.isalnum() or c in "-_=." for c in key)
    assert key != cache_key(SHA, "openai", "llama3.2:latest")


async def test_an_unreadable_entry_is_a_miss(js: JetStreamContext) -> None:
    kv: KeyValue = await extractions_bucket(js)
    await kv.put(cache_key(SHA, "local", "rapidocr"), b"{not an extraction")

    assert await cache_on(js).get(SHA, "local", "rapidocr") is None


async def test_a_cache_that_cannot_open_is_a_miss_and_put_is_harmless() -> None:
    async def unavailable() -> KeyValue:
        raise RuntimeError("no connection")

    cache = KeyValueCache(unavailable)

    assert await cache.get(SHA, "openai", "m") is None
    await cache.put(SHA, "openai", "m", extraction())  # logs, does not raise


async def test_no_cache_never_hits() -> None:
    cache = NoCache()
    await cache.put(SHA, "openai", "m", extraction())
    assert await cache.get(SHA, "openai", "m") is None


def test_a_reused_extraction_spent_no_tokens() -> None:
    again = reused(extraction())
    assert again.usage == Usage()
    assert again.invoice == extraction().invoice and again.provider == "openai"
