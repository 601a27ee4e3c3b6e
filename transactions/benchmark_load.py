"""HTTP load for `manage.py benchmark_api`: a separate process, standard library only.

    python -m transactions.benchmark_load JOB.json

JOB holds: host, port, token, concurrency, bodies (request bodies, sent in order, each
once). C HTTP/1.1 keep-alive connections, driven from one thread by a selector: each
sends its next request as soon as it has read the whole answer to the previous one, until
no body is left (C clients that each wait for their answer, as C bank systems would).
Requests are encoded before the clock starts and answers parsed only as far as the status
line and Content-Length, so the load generator costs little of the machine it measures.
Prints one JSON object: per-request latency percentiles (ms, from sending the request to
reading the whole answer), throughput, status counts, and the ids answered 201/200. Never
imports Django, so its CPU cost is only the client's.
"""

import json
import selectors
import socket
import sys
import time
from collections import Counter
from typing import Any

PATH = "/api/v1/transactions/"
HEADER_END = b"\r\n\r\n"
ANSWER_TIMEOUT_S = 60


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (as numpy's default) of sorted values."""
    if not sorted_values:
        return 0.0
    position = (len(sorted_values) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def encode_request(host: str, port: int, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Token {token}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "\r\n"
    )
    return head.encode() + payload


class BadResponse(Exception):
    pass


def parse_response(buffer: bytes) -> tuple[int, bytes, int, bool] | None:
    """(status, body, bytes used, server closes) of the first whole answer in `buffer`,
    or None while it is incomplete. Answers must carry a Content-Length."""
    end = buffer.find(HEADER_END)
    if end < 0:
        return None
    lines = buffer[:end].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise BadResponse(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    length = None
    closes = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            closes = True
        elif name == b"transfer-encoding":
            raise BadResponse("chunked answers are not supported")
    if length is None:
        raise BadResponse("answer without Content-Length")
    used = end + len(HEADER_END) + length
    if len(buffer) < used:
        return None
    return status, buffer[end + len(HEADER_END) : used], used, closes


class _Client:
    __slots__ = ("sock", "buffer", "index", "started")

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.index = -1
        self.started = 0.0


def run(job: dict[str, Any]) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = job["bodies"]
    host, port = job["host"], job["port"]
    encoded = [encode_request(host, port, job["token"], body) for body in bodies]
    latencies: list[float] = [0.0] * len(encoded)
    statuses: list[int] = [0] * len(encoded)
    errors: list[str] = []
    samples: dict[int, str] = {}
    selector = selectors.DefaultSelector()
    pending = iter(range(len(encoded)))
    active = 0

    def send_next(client: _Client) -> None:
        nonlocal active
        i = next(pending, None)
        if i is None:
            selector.unregister(client.sock)
            client.sock.close()
            active -= 1
            return
        client.index = i
        client.started = time.perf_counter()
        try:
            client.sock.sendall(encoded[i])
        except OSError as error:  # the connection broke while idle: this request fails
            fail(client, error)

    def reconnect(client: _Client) -> _Client:
        selector.unregister(client.sock)
        client.sock.close()
        fresh = _Client((host, port))
        selector.register(fresh.sock, selectors.EVENT_READ, fresh)
        return fresh

    def fail(client: _Client, error: Exception) -> None:
        errors.append(f"{type(error).__name__}: {error}")
        latencies[client.index] = (time.perf_counter() - client.started) * 1000.0
        send_next(reconnect(client))

    started = time.perf_counter()
    for _ in range(min(job["concurrency"], len(encoded))):
        client = _Client((host, port))
        selector.register(client.sock, selectors.EVENT_READ, client)
        active += 1
        send_next(client)
    while active:
        events = selector.select(timeout=ANSWER_TIMEOUT_S)
        if not events:
            raise TimeoutError(f"no answer within {ANSWER_TIMEOUT_S} s on {active} connections")
        for key, _ in events:
            client = key.data
            try:
                data = client.sock.recv(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                client.buffer += data
                answer = parse_response(client.buffer)
            except (OSError, ValueError, BadResponse) as error:
                fail(client, error)
                continue
            if answer is None:
                continue
            status, payload, used, closes = answer
            finished = time.perf_counter()
            latencies[client.index] = (finished - client.started) * 1000.0
            statuses[client.index] = status
            if status not in (200, 201) and status not in samples:
                samples[status] = payload[:500].decode(errors="replace")
            client.buffer = client.buffer[used:]
            send_next(reconnect(client) if closes else client)
    elapsed = time.perf_counter() - started
    selector.close()
    ordered = sorted(latencies)
    ok = [bodies[i]["id"] for i, status in enumerate(statuses) if status in (200, 201)]
    return {
        "concurrency": job["concurrency"],
        "requests": len(encoded),
        "seconds": elapsed,
        "throughput_per_s": len(encoded) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1] if ordered else 0.0,
        "mean_ms": sum(ordered) / len(ordered) if ordered else 0.0,
        "statuses": {str(k): v for k, v in sorted(Counter(statuses).items())},
        "created": sum(1 for status in statuses if status == 201),
        "answered_ids": ok,
        "error_samples": {str(k): v for k, v in samples.items()},
        "transport_errors": errors[:10],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    print(json.dumps(run(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
