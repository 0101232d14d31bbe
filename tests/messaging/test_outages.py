"""`while_nats_away`: an outage is waited out, anything else is raised at once."""

from __future__ import annotations

import logging

import nats.errors
import nats.js.errors
import pytest

from services.messaging.outages import (
    CLUSTER_NOT_LEADER,
    WAITING_MARK,
    is_declaring_outage,
    is_nats_outage,
    while_nats_away,
)


class Attempts:
    """Fails with each of `errors` in turn, then returns how many calls it took."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.calls


async def test_an_outage_is_tried_again_until_the_attempt_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempt = Attempts(
        nats.errors.TimeoutError(),
        nats.js.errors.ServiceUnavailableError(),
        nats.errors.NoRespondersError(),
    )
    with caplog.at_level(logging.WARNING):
        assert await while_nats_away(attempt, "declaring", first_pause=0.001) == 4
    waits = [r.getMessage() for r in caplog.records if WAITING_MARK in r.getMessage()]
    assert len(waits) == 3 and all(w.startswith("declaring: ") for w in waits)


async def test_a_refusal_is_raised_at_once_and_no_leader_yet_is_waited_out() -> None:
    # As a single server answers a stream of 3 replicas, and a cluster without a leader.
    refused = nats.js.errors.ServerError(
        code=500, err_code=10074, description="replicas > 1 not supported in non-clustered mode"
    )
    no_leader = nats.js.errors.ServerError(code=500, err_code=CLUSTER_NOT_LEADER)
    attempt = Attempts(no_leader, refused)
    with pytest.raises(nats.js.errors.ServerError) as raised:
        await while_nats_away(attempt, "declaring", first_pause=0.001)
    assert raised.value is refused and attempt.calls == 2


async def test_another_error_is_raised_at_once() -> None:
    attempt = Attempts(nats.errors.TimeoutError(), nats.js.errors.BadRequestError())
    with pytest.raises(nats.js.errors.BadRequestError):
        await while_nats_away(attempt, "declaring", first_pause=0.001)
    assert attempt.calls == 2


async def test_the_pause_doubles_up_to_the_longest(caplog: pytest.LogCaptureFixture) -> None:
    attempt = Attempts(*(nats.errors.TimeoutError() for _ in range(5)))
    with caplog.at_level(logging.WARNING):
        await while_nats_away(attempt, "declaring", first_pause=0.001, longest_pause=0.004)
    # The pause is the last of the message's arguments (printed to a tenth of a second).
    pauses = [r.args[-1] for r in caplog.records if isinstance(r.args, tuple)]
    assert pauses == [0.001, 0.002, 0.004, 0.004, 0.004]


def test_a_refused_request_is_not_an_outage() -> None:
    assert is_nats_outage(nats.errors.TimeoutError())
    assert not is_nats_outage(nats.js.errors.BadRequestError())
    assert not is_nats_outage(ValueError())
    # Publishing waits out a 500 (a leader change mid-publish); declaring only the leaderless one.
    assert is_nats_outage(nats.js.errors.ServerError(err_code=10074))
    assert not is_declaring_outage(nats.js.errors.ServerError(err_code=10074))
    assert is_declaring_outage(nats.errors.TimeoutError())
