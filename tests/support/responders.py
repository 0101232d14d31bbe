"""Stand-ins for a service that answers core-NATS requests."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


async def answering(client: NatsClient, subject: str, reply: bytes | None) -> Subscription:
    """Answers every request on `subject` with `reply`; with None, takes them and never answers.

    The subscription ends with the client (or on `unsubscribe`).
    """

    async def answer(message: Msg) -> None:
        if reply is not None:
            await message.respond(reply)

    subscription = await client.subscribe(subject, cb=answer)
    await client.flush()  # subscribed on the server before the test asks
    return subscription
