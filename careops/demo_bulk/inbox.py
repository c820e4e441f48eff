"""The demo inbox: a thread per contact who wrote in or was written to."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from careops.demo_bulk.catalogue import CHUNK, HISTORY_DAYS, INBOUND, OUTBOUND
from careops.demo_bulk.rows import CONVERSATION_FIELDS, MESSAGE_FIELDS
from messaging.models import Channel, Conversation, Message
from messaging.services import PREVIEW_LENGTH


def conversations_fill(filler, contacts: list[tuple[int, str, str, str]]) -> None:
    """Most contacts wrote in or were written to: a thread each, by email or SMS, with the
    conversation's last message, preview, channel and unread count as the services keep
    them (unread: the client's messages since the last reply, while recent)."""
    for begin in range(0, len(contacts), CHUNK):
        conversations, threads = [], []
        for pk, _name, email, phone in contacts[begin : begin + CHUNK]:
            if filler.rng.random() < 0.6:
                thread = _thread(filler, pk, email, phone)
                conversations.append(_conversation(filler, pk, thread))
                threads.append(thread)
        ids = filler.insert(Conversation, CONVERSATION_FIELDS, conversations)
        filler.insert(
            Message,
            MESSAGE_FIELDS,
            [
                (filler.ws.pk, pk, *m)
                for pk, thread in zip(ids, threads, strict=True)
                for m in thread
            ],
        )


def _thread(filler, contact_id: int, email: str, phone: str) -> list[tuple]:
    rng, now = filler.rng, filler.now
    at = now - timedelta(minutes=rng.randrange(30, HISTORY_DAYS * 24 * 60))
    # Recent threads are the busy ones: a third start in the last fortnight.
    if rng.random() < 0.33:
        at = now - timedelta(minutes=rng.randrange(30, 14 * 24 * 60))
    channels = [c for c, address in ((Channel.EMAIL, email), (Channel.SMS, phone)) if address]
    staff = rng.choice(filler.calendars)
    messages, inbound = [], rng.random() < 0.75
    for _ in range(rng.randint(1, 7)):
        if at > now:
            break
        channel = rng.choice(channels)
        address = email if channel == Channel.EMAIL else phone
        if inbound:
            subject, body = rng.choice(INBOUND)
            messages.append(
                _message(
                    "inbound",
                    channel,
                    "received",
                    subject if channel == Channel.EMAIL else "",
                    body,
                    "contact",
                    None,
                    filler.inbound_address if channel == Channel.EMAIL else "",
                    address,
                    at,
                )
            )
        else:
            status = rng.choices(("delivered", "sent", "failed"), (85, 12, 3))[0]
            messages.append(
                _message(
                    "outbound",
                    channel,
                    status,
                    f"Message from {filler.ws.name}" if channel == Channel.EMAIL else "",
                    rng.choice(OUTBOUND),
                    "staff",
                    staff.pk,
                    address,
                    "",
                    at,
                )
            )
        at += timedelta(minutes=rng.randrange(3, 2 * 24 * 60))
        inbound = rng.random() < 0.5
    if not messages:  # a thread's first message is never in the future: at <= now
        raise AssertionError("empty thread")
    return messages


def _conversation(filler, contact_id: int, thread: list[tuple]) -> tuple:
    now = filler.now
    direction = [m[0] for m in thread]
    last = thread[-1]
    replies = [m for m in thread if m[0] == "outbound"]
    trailing = (
        len(direction) - (max(i for i, d in enumerate(direction) if d == "outbound") + 1)
        if replies
        else len(direction)
    )
    recent = last[-1] > now - timedelta(days=14)
    inbound = [m for m in thread if m[0] == "inbound"]
    subject, body = last[3], last[4]
    preview = " ".join((subject + " " + body if subject else body).split())[:PREVIEW_LENGTH]
    closed = not recent and filler.rng.random() < 0.7
    return (
        filler.ws.pk,
        contact_id,
        "closed" if closed else "open",
        trailing if recent else 0,
        last[-1],
        preview,
        inbound[-1][1] if inbound else "",
        filler.rng.choice(filler.calendars).pk if filler.rng.random() < 0.4 else None,
        bool(replies),
        replies[0][-1] if replies else None,
        thread[0][-1],
        last[-1],
    )


def _message(direction, channel, status, subject, body, sender, user, to, sender_address, at):
    sent = at if status in ("sent", "delivered") else None
    failed = status == "failed"
    return (
        direction,
        channel,
        status,
        subject,
        body,
        sender,
        user,
        to,
        sender_address,
        "console" if direction == "outbound" else "",
        "demo: the provider answered HTTP 503 (service unavailable)" if failed else "",
        settings.MESSAGE_MAX_ATTEMPTS if failed else int(direction == "outbound"),
        sent,
        at + timedelta(seconds=4) if status == "delivered" else None,
        at if failed else None,
        at,  # updated_at
        at,  # created_at: last, the thread's clock
    )
