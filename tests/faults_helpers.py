"""What the fault tests (tests/test_faults_*.py) share: a TCP proxy in front of PostgreSQL that a
test can cut, a database of their own, and the check every one of them ends with.

The check: every customer message has exactly one request, at most one reply, and a card,
read from both sides (the database and what the Slack emulator holds).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import select

from integrations.store.db import transaction, upgrade
from integrations.store.models import OutboxMessage, Request, RequestMessage
from sandbox.world import BOT_USER, SHARED
from tests.harness import World

POSTGRES = ("127.0.0.1", 5432)


class PgProxy:
    """A TCP proxy on a free local port in front of PostgreSQL.

    `cut()` drops every connection through it and refuses new ones (the server restarting, or
    gone from the network); `hang()` drops them too but accepts new ones and never answers
    (a server that does not answer: only a connect timeout ends the wait); `restore()`
    forwards again, on the same port."""

    def __init__(self, upstream: tuple[str, int] = POSTGRES) -> None:
        self.upstream = upstream
        self.port = 0
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._listener: socket.socket | None = None
        self._hanging = False
        self.restore()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def restore(self) -> None:
        with self._lock:
            self._hanging = False
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self.port = int(listener.getsockname()[1])
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:  # new connections are refused
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it
            listener.close()
        self._drop_all()

    def hang(self) -> None:
        self.restore()
        with self._lock:
            self._hanging = True
        self._drop_all()

    def close(self) -> None:
        self.cut()

    def _drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for end in pair:
                if end is not None:
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)
                    end.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            with self._lock:
                if self._listener is not listener:  # accepted as it was being cut
                    client.close()
                    return
                if self._hanging:  # held open, never answered, until the next cut or hang
                    self._pairs.append((client, None))
                    continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A migrated database of our own (`triage_faults_<random>`), dropped afterwards; its name."""
    name = f"triage_faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(admin_url.rsplit("/", 1)[0] + f"/{name}")
        yield name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def messages_said(world: World, channel: str = SHARED) -> list[str]:
    """The ts of every top-level message customers wrote in a channel (not the bot's)."""
    return [
        m["ts"]
        for m in world.emu.messages(channel)
        if not m.get("bot_id") and m.get("user") != BOT_USER
    ]


def card_requests(world: World) -> dict[str, int]:
    """Each card in the triage channel → the request its outbox row was for."""
    with transaction(world.deps.sessions) as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.request_id).where(OutboxMessage.kind == "card")
        ).all()
    request_of = {str(outbox_id): request_id for outbox_id, request_id in rows}
    found = {}
    for card in world.cards():
        payload = (card.get("metadata") or {}).get("event_payload") or {}
        found[card["ts"]] = request_of.get(str(payload.get("outbox_id")), -1)
    return found


def all_carded(world: World, said: list[str]) -> bool:
    """Whether every message in `said` has a request whose card is in the triage channel."""
    with transaction(world.deps.sessions) as session:
        carded = session.scalars(
            select(RequestMessage.ts)
            .join(Request, Request.id == RequestMessage.request_id)
            .where(RequestMessage.ts.in_(said), Request.card_ts.is_not(None))
        ).all()
    return len(set(carded)) == len(set(said)) and len(world.cards()) >= len(set(said))


def assert_each_message_once(world: World, said: list[str], channel: str = SHARED) -> None:
    """Every customer message has exactly one request, at most one reply, and a card.

    From the database: one request message per customer message, one request each (the tests
    run with GROUPING_MINUTES=0), each with a card. From Slack: one card per request in the
    triage channel and none that no request owns, at most one reply in each customer thread,
    at most one 👀 per message."""
    said = sorted(set(said))
    with transaction(world.deps.sessions) as session:
        rows = session.execute(
            select(RequestMessage.ts, Request.id, Request.card_ts, Request.thread_ts)
            .join(Request, Request.id == RequestMessage.request_id)
            .where(RequestMessage.channel_id == channel)
        ).all()
        requests = session.scalars(select(Request.id).where(Request.channel_id == channel)).all()
    by_ts: dict[str, list[Any]] = {}
    for row in rows:
        by_ts.setdefault(row.ts, []).append(row)
    problems = [
        f"{ts}: {len(by_ts.get(ts, []))} request messages"
        for ts in said
        if len(by_ts.get(ts, [])) != 1
    ]
    problems += [f"{ts}: no card" for ts in said if by_ts.get(ts) and not by_ts[ts][0].card_ts]
    if len(requests) != len(said):
        problems.append(f"{len(requests)} requests for {len(said)} customer messages")
    cards = card_requests(world)
    per_request: dict[int, int] = {}
    for request_id in cards.values():
        per_request[request_id] = per_request.get(request_id, 0) + 1
    problems += [f"request {r}: {n} cards" for r, n in per_request.items() if n != 1]
    problems += [f"request {r}: no card in Slack" for r in requests if r not in per_request]
    problems += ["a card no request owns" for r in per_request if r == -1 or r not in requests]
    for ts in said:
        replies = world.replies_in(ts, channel)  # the bot's messages in the thread
        if len(replies) > 1:
            problems.append(f"{ts}: {len(replies)} replies in its thread")
        eyes = world.emu.reactions(channel, ts).get("eyes", [])
        if len(eyes) > 1:
            problems.append(f"{ts}: {len(eyes)} 👀")
    assert problems == [], problems
