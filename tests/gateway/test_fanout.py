"""Seq bookkeeping of one follower, without I/O: each update once, in order, none lost."""

from __future__ import annotations

from services.gateway.fanout import Delivery, Sequencer


def caught_up_now(sequencer: Sequencer[str], stored: list[int]) -> Delivery[str]:
    after = sequencer.reading()
    return sequencer.caught_up([(seq, f"stored {seq}") for seq in stored if seq > after])


def test_a_join_replays_the_history_then_goes_live() -> None:
    sequencer: Sequencer[str] = Sequencer()

    replay = caught_up_now(sequencer, [1, 2, 3])

    assert replay == Delivery(["stored 1", "stored 2", "stored 3"])
    assert sequencer.live(4, "live 4") == Delivery(["live 4"])
    assert sequencer.last == 4


def test_the_stored_copy_wins_over_a_held_live_copy_of_the_same_seq() -> None:
    sequencer: Sequencer[str] = Sequencer()
    sequencer.live(2, "live 2, maybe from a refused publish")

    assert caught_up_now(sequencer, [1, 2]).send == ["stored 1", "stored 2"]


def test_live_updates_after_a_hole_wait_for_the_replay_and_are_not_repeated() -> None:
    sequencer: Sequencer[str] = Sequencer()
    # Subscribed before the read: 3 and 4 arrive live while the history is being read.
    assert sequencer.live(3, "live 3") == Delivery()
    assert sequencer.live(4, "live 4") == Delivery()

    replay = caught_up_now(sequencer, [1, 2, 3])

    assert replay.send == ["stored 1", "stored 2", "stored 3", "live 4"]
    assert not replay.read_history
    assert sequencer.live(4, "live 4 again") == Delivery()


def test_the_next_update_in_order_is_sent_at_once_during_the_replay() -> None:
    # Joined before anything was stored: 1 and 2 arrive live while the (empty) read runs.
    sequencer: Sequencer[str] = Sequencer()
    after = sequencer.reading()

    assert sequencer.live(1, "live 1") == Delivery(["live 1"])
    assert sequencer.live(3, "live 3") == Delivery()  # a hole: held
    assert sequencer.live(2, "live 2") == Delivery(["live 2", "live 3"])

    replay = sequencer.caught_up([(seq, f"stored {seq}") for seq in [1, 2] if seq > after])

    assert replay == Delivery()
    assert not sequencer.catching_up
    assert sequencer.last == 3
    assert sequencer.live(4, "live 4") == Delivery(["live 4"])


def test_after_seq_skips_what_the_client_has() -> None:
    sequencer: Sequencer[str] = Sequencer(after_seq=2)

    assert caught_up_now(sequencer, [1, 2, 3]).send == ["stored 3"]
    assert sequencer.live(2, "old") == Delivery()
    assert sequencer.live(3, "dup") == Delivery()


def test_a_gap_asks_for_a_read_and_holds_later_updates() -> None:
    sequencer: Sequencer[str] = Sequencer()
    caught_up_now(sequencer, [1])

    assert sequencer.live(3, "live 3") == Delivery(read_history=True)
    assert sequencer.live(4, "live 4") == Delivery()  # already reading

    filled = caught_up_now(sequencer, [1, 2, 3])

    assert filled == Delivery(["stored 2", "stored 3", "live 4"])
    assert sequencer.live(5, "live 5") == Delivery(["live 5"])


def test_a_hole_the_read_could_not_see_yet_reads_again() -> None:
    sequencer: Sequencer[str] = Sequencer()
    after = sequencer.reading()
    assert after == 0
    # 3 arrives after the read started; 2 was not stored when the read looked.
    sequencer.live(3, "live 3")
    first = sequencer.caught_up([(1, "stored 1")])
    assert first == Delivery(["stored 1"], read_history=True)
    assert sequencer.catching_up

    second = caught_up_now(sequencer, [1, 2, 3])

    assert second == Delivery(["stored 2", "stored 3"])
    assert not sequencer.catching_up


def test_a_hole_still_there_after_a_later_read_is_skipped() -> None:
    # 2 is gone from the stream for good (expired): waiting would stall the follower forever.
    sequencer: Sequencer[str] = Sequencer()
    sequencer.live(3, "live 3")  # known before the read

    replay = caught_up_now(sequencer, [1])

    assert replay == Delivery(["stored 1", "live 3"])
    assert sequencer.last == 3


def test_resync_reads_again_only_when_no_read_is_due() -> None:
    sequencer: Sequencer[str] = Sequencer()
    assert not sequencer.resync()  # the join's own replay is due
    caught_up_now(sequencer, [1])
    assert sequencer.resync()
    assert sequencer.live(3, "live 3") == Delivery()  # after a hole: held until the read

    assert caught_up_now(sequencer, [1, 2, 3]).send == ["stored 2", "stored 3"]
