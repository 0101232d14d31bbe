"""The socket benchmark's pure helpers: what counts as live, and how figures are read."""

from __future__ import annotations

import math

import pytest

from bench.sockets import (
    AtGateways,
    Delays,
    SocketRecord,
    deal,
    histogram_buckets,
    kib_per_socket,
    metric_value,
    parse_kib,
    split_frames,
)


def record(join_sent: float, *updates: tuple[int, float, float, str]) -> SocketRecord:
    return SocketRecord("task_x", "ws://gw/ws", "http://gw", join_sent, updates=list(updates))


def test_a_frame_stored_before_the_join_is_a_replay_timed_from_the_join() -> None:
    split = split_frames(
        [
            record(
                100.0,
                (1, 99.5, 100.02, "stage_start"),  # stored before the join: replay
                (2, 100.0, 100.03, "progress"),  # stored as the join was sent: live
                (3, 101.0, 101.004, "complete"),
            )
        ]
    )

    assert split.replayed == pytest.approx([0.02])
    assert split.live == pytest.approx([0.03, 0.004])
    assert split.slow_stored_after_join == []
    assert (split.gaps, split.doubles, split.unfinished) == (0, 0, 0)


def test_a_late_live_frame_tells_how_soon_after_the_join_it_was_stored() -> None:
    split = split_frames([record(100.0, (1, 100.004, 101.1, "stage_start"))])

    assert split.live == pytest.approx([1.096])
    assert split.slow_stored_after_join == pytest.approx([0.004])


def test_gaps_doubles_and_unfinished_sockets_are_counted() -> None:
    split = split_frames(
        [
            record(0.0, (1, 1.0, 1.1, "stage_start"), (3, 2.0, 2.1, "progress")),
            record(0.0, (1, 1.0, 1.1, "stage_start"), (1, 1.0, 1.2, "stage_start")),
            record(0.0, (1, 1.0, 1.1, "error")),
        ]
    )

    assert split.gaps == 1
    assert split.doubles == 1
    assert split.unfinished == 2
    assert len(split.live) == 4  # a double counts once


def test_a_socket_that_got_an_error_frame_is_unfinished_even_after_complete() -> None:
    failed = record(0.0, (1, 1.0, 1.1, "complete"))
    failed.error = "TimeoutError()"

    assert split_frames([failed]).unfinished == 1


def test_delays_report_percentiles_and_the_slow_count() -> None:
    delays = Delays.of([i / 1000 for i in range(1, 101)] + [0.3, 1.2])

    assert delays.count == 102
    assert delays.p50 == pytest.approx(0.051)  # nearest rank, as bench.pipeline
    assert delays.max == pytest.approx(1.2)
    assert delays.over_250ms == 2
    assert "2 over 250 ms" in delays.line()


def test_no_frames_give_no_figures() -> None:
    delays = Delays.of([])

    assert delays.count == 0
    assert math.isnan(delays.p99)
    assert math.isnan(delays.max)


def test_proc_texts_are_read_in_kib() -> None:
    status = "Name:\tpython\nVmHWM:\t  99 kB\nVmRSS:\t  123456 kB\n"
    rollup = "00400000-7fff [rollup]\nRss:   200 kB\nPss:   150 kB\nPss_Anon:  100 kB\n"

    assert parse_kib(status, "VmRSS") == 123456
    assert parse_kib(rollup, "Pss") == 150
    with pytest.raises(KeyError):
        parse_kib(status, "Pss")
    assert kib_per_socket(1000, 1500, 100) == 5.0
    assert math.isnan(kib_per_socket(1000, 1500, 0))


def test_items_are_dealt_round_robin() -> None:
    assert deal(10, 3) == [4, 3, 3]
    assert deal(2, 4) == [1, 1, 0, 0]
    assert sum(deal(10_000, 7)) == 10_000


def test_a_metric_sample_is_found_by_name_and_labels() -> None:
    page = (
        "# TYPE invoiceflow_sockets_open gauge\n"
        'invoiceflow_sockets_open{transport="socketio"} 0.0\n'
        'invoiceflow_sockets_open{transport="ws"} 10000.0\n'
    )

    assert metric_value(page, 'invoiceflow_sockets_open{transport="ws"}') == 10000.0
    assert metric_value(page, "invoiceflow_missing") is None


def test_a_histograms_buckets_are_read_by_upper_bound() -> None:
    page = (
        "# TYPE invoiceflow_publish_to_socket_seconds histogram\n"
        'invoiceflow_publish_to_socket_seconds_bucket{le="0.05"} 7.0\n'
        'invoiceflow_publish_to_socket_seconds_bucket{le="0.1"} 9.0\n'
        'invoiceflow_publish_to_socket_seconds_bucket{le="+Inf"} 10.0\n'
        "invoiceflow_publish_to_socket_seconds_count 10.0\n"
        'invoiceflow_other_seconds_bucket{le="0.05"} 99.0\n'
    )

    assert histogram_buckets(page, "invoiceflow_publish_to_socket_seconds") == {
        0.05: 7.0,
        0.1: 9.0,
        math.inf: 10.0,
    }


def test_updates_at_the_gateways_are_counted_between_two_reads() -> None:
    before = {0.05: 100.0, 0.1: 110.0, math.inf: 120.0}
    after = {0.05: 160.0, 0.1: 185.0, math.inf: 200.0}  # 80 more: 60 within 50 ms, 75 within 100

    heard = AtGateways.between(before, after)

    assert heard == AtGateways(updates=80, over_50_ms=20, over_100_ms=5)
    assert "25.0% already over 50 ms" in heard.line()
