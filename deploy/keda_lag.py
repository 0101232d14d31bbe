"""The lag KEDA's `nats-jetstream` scaler scales a step on, read the way the scaler reads it.

KEDA gets `/jsz?acc=<account>&consumers=true&config=true` from the monitoring endpoint, finds
the account, then the stream, then the consumer, and takes `num_pending + num_ack_pending`: in
flight counts as lag. A consumer it cannot find makes it use the stream's `last_seq` instead,
which over-scales. On a cluster only the consumer leader's numbers are exact.

    python -m deploy.keda_lag 127.0.0.1:8222            # every step's consumer
    python -m deploy.keda_lag nats:8222 --consumer extractor
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.names import WORK_STREAM
from contracts.pipeline import PIPELINE

DEFAULT_ACCOUNT = "$G"  # the account of a server without accounts configured


@dataclass(frozen=True)
class Lag:
    lag: int
    # False: the consumer was not in the answer and `lag` is the stream's last sequence.
    consumer_found: bool
    consumer_leader: str | None = None


def jsz_url(endpoint: str, account: str = DEFAULT_ACCOUNT, https: bool = False) -> str:
    """`endpoint` as KEDA's `natsServerMonitoringEndpoint`: host:port of the monitoring port."""
    scheme = "https" if https else "http"
    return f"{scheme}://{endpoint}/jsz?acc={account}&consumers=true&config=true"


def _named(items: Any, name: str) -> Mapping[str, Any] | None:
    for item in items or ():
        if isinstance(item, Mapping) and item.get("name") == name:
            return item
    return None


def lag_from_jsz(
    jsz: Mapping[str, Any],
    *,
    consumer: str,
    stream: str = WORK_STREAM,
    account: str = DEFAULT_ACCOUNT,
) -> Lag:
    """The scaler's number from a `/jsz` answer; LookupError when the stream is not in it
    (KEDA has no usable number then)."""
    found_account = _named(jsz.get("account_details"), account)
    found_stream = _named(found_account.get("stream_detail"), stream) if found_account else None
    if found_stream is None:
        raise LookupError(f"stream {stream} not found in account {account}")
    found = _named(found_stream.get("consumer_detail"), consumer)
    if found is None:
        return Lag(int(found_stream.get("state", {}).get("last_seq", 0)), consumer_found=False)
    leader = found.get("cluster", {}).get("leader")
    return Lag(
        int(found.get("num_pending", 0)) + int(found.get("num_ack_pending", 0)),
        consumer_found=True,
        consumer_leader=str(leader) if leader else None,
    )


def read_jsz(endpoint: str, account: str = DEFAULT_ACCOUNT, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(jsz_url(endpoint, account), timeout=timeout) as response:
        return json.load(response)


def read_lag(
    endpoint: str,
    *,
    consumer: str,
    stream: str = WORK_STREAM,
    account: str = DEFAULT_ACCOUNT,
    timeout: float = 5.0,
) -> Lag:
    return lag_from_jsz(
        read_jsz(endpoint, account, timeout), consumer=consumer, stream=stream, account=account
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("endpoint", help="host:port of a nats-server's monitoring listener")
    parser.add_argument("--account", default=DEFAULT_ACCOUNT)
    parser.add_argument("--stream", default=WORK_STREAM)
    parser.add_argument("--consumer", action="append", help="default: every step's consumer")
    args = parser.parse_args(argv)
    jsz = read_jsz(args.endpoint, args.account)
    for consumer in args.consumer or [step.consumer for step in PIPELINE]:
        lag = lag_from_jsz(jsz, consumer=consumer, stream=args.stream, account=args.account)
        note = f"leader {lag.consumer_leader}" if lag.consumer_leader else ""
        if not lag.consumer_found:
            note = "consumer not found: KEDA would use the stream's last sequence"
        print(f"{consumer}\t{lag.lag}\t{note}".rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
