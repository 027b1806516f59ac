"""Slack's side of the burst: POST each event envelope, signed, as fast as K client threads allow.

Runs in a process of its own (`python bench/burst_send.py PLAN RESULT`, started by `send`), so
the clock that times each acknowledgement shares no interpreter lock with the emulators of the
benchmark's own process. Each thread keeps one keep-alive connection per server. A delivery
with `retry` carries `X-Slack-Retry-Num`, as Slack's redeliveries do. Warm-up requests go first
and are not timed: a deployment that meets an outage has been serving for a while.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `sandbox` is not an installed package of the child
    sys.path.insert(0, str(REPO))

Connections = list[dict[str, http.client.HTTPConnection]]  # per client thread, per server


@dataclass(frozen=True)
class Delivery:
    """One POST: which message (its serial), to which server, and whether it is a redelivery;
    an empty body is a GET of `/healthz` (warm-up)."""

    serial: int
    url: str  # the server's base URL
    body: str
    retry: int | None = None


@dataclass(frozen=True)
class Ack:
    """What one POST got: when it started (wall clock), how long it took, and its status."""

    serial: int
    url: str
    retry: int | None
    sent: float  # time.time() as the request started
    ms: float
    status: int  # 0: no answer (connection error or timeout)


def send(
    deliveries: list[Delivery],
    *,
    threads: int,
    secret: str,
    workdir: Path,
    warmup: list[Delivery] | None = None,
) -> list[Ack]:
    """Send `warmup`, then POST every delivery, from `threads` client threads in a child
    process; the deliveries' acks."""
    plan, result = workdir / "deliveries.json", workdir / "acks.json"
    plan.write_text(
        json.dumps(
            {
                "threads": threads,
                "secret": secret,
                "warmup": [asdict(d) for d in warmup or []],
                "deliveries": [asdict(d) for d in deliveries],
            }
        )
    )
    subprocess.run([sys.executable, __file__, str(plan), str(result)], check=True, cwd=REPO)
    return [Ack(**a) for a in json.loads(result.read_text())]


def _post_all(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The warm-up, then the burst, each from all threads; the burst's acks."""
    connections: Connections = [{} for _ in range(plan["threads"])]
    _run([Delivery(**d) for d in plan["warmup"]], connections, plan["secret"])
    acks = _run([Delivery(**d) for d in plan["deliveries"]], connections, plan["secret"])
    for mine in connections:
        for conn in mine.values():
            conn.close()
    return acks


def _run(
    deliveries: list[Delivery],
    connections: list[dict[str, http.client.HTTPConnection]],
    secret: str,
) -> list[dict[str, Any]]:
    """Send every delivery, one thread per entry of `connections` (its keep-alive ones)."""
    from sandbox.slack_events import sign

    lock, cursor = threading.Lock(), iter(deliveries)
    acks: list[dict[str, Any]] = []  # list.append is thread-safe

    def client(mine: dict[str, http.client.HTTPConnection]) -> None:
        while True:
            with lock:
                delivery = next(cursor, None)
            if delivery is None:
                return
            host = delivery.url.removeprefix("http://")
            conn = mine.setdefault(host, http.client.HTTPConnection(host, timeout=10))
            raw = delivery.body.encode()
            headers = {"Content-Type": "application/json", **sign(raw, secret)}
            if delivery.retry is not None:
                headers["X-Slack-Retry-Num"] = str(delivery.retry)
                headers["X-Slack-Retry-Reason"] = "http_timeout"
            method, path = ("POST", "/slack/events") if raw else ("GET", "/healthz")
            sent, started = time.time(), time.perf_counter()
            try:
                conn.request(method, path, body=raw or None, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()  # http.client reconnects on the next request
            ms = (time.perf_counter() - started) * 1000
            ack = Ack(delivery.serial, delivery.url, delivery.retry, sent, ms, status)
            acks.append(asdict(ack))

    threads = [threading.Thread(target=client, args=(mine,)) for mine in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acks


if __name__ == "__main__":
    plan_file, result_file = Path(sys.argv[1]), Path(sys.argv[2])
    result_file.write_text(json.dumps(_post_all(json.loads(plan_file.read_text()))))
