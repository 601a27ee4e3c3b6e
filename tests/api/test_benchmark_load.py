"""The benchmark's load generator against a small HTTP server on loopback: every body
sent once, answers read whole over keep-alive connections, closed connections reopened,
statuses counted."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from transactions import benchmark_load


class _Bank(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str] = []
    connections: list[tuple[str, int]] = []  # one entry per accepted connection

    def setup(self) -> None:
        super().setup()
        _Bank.connections.append(self.client_address)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.headers["Authorization"] == "Token secret"
        _Bank.seen.append(body["id"])
        number = int(body["id"].split("-")[1])
        status = 500 if number % 10 == 7 else 201
        payload = json.dumps({"transaction": body["id"], "pad": "x" * (number * 97)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if number % 6 == 5:  # now and then the server ends the keep-alive connection
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        # headers and body in separate writes: the client must wait for the whole answer
        self.wfile.flush()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bank_server():
    _Bank.seen, _Bank.connections = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_body_is_sent_once_and_answers_are_counted(bank_server, concurrency):
    bodies = [{"id": f"B-{i}"} for i in range(60)]
    result = benchmark_load.run(
        {
            "host": "127.0.0.1",
            "port": bank_server,
            "token": "secret",
            "concurrency": concurrency,
            "bodies": bodies,
        }
    )
    assert sorted(_Bank.seen) == sorted(b["id"] for b in bodies)
    failed = {f"B-{i}" for i in range(60) if i % 10 == 7}
    assert result["statuses"] == {"201": 54, "500": 6}
    assert result["answered_ids"] == [b["id"] for b in bodies if b["id"] not in failed]
    assert "B-7" in result["error_samples"]["500"]
    assert result["transport_errors"] == []
    assert result["requests"] == 60 and result["p99_ms"] >= result["p50_ms"] > 0
    # keep-alive: one connection per client, plus one more after each of the server's 10
    # closes (the close of the very last answer may need none)
    assert concurrency + 9 <= len(_Bank.connections) <= concurrency + 10


def test_parse_response_waits_for_the_whole_answer():
    head = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"
    assert benchmark_load.parse_response(head[:20]) is None
    assert benchmark_load.parse_response(head + b"abc") is None
    status, body, used, closes = benchmark_load.parse_response(head + b"abcdeHTTP/1.1")
    assert (status, body, used, closes) == (201, b"abcde", len(head) + 5, False)
    with pytest.raises(benchmark_load.BadResponse):
        benchmark_load.parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")


def test_a_server_that_stops_answering_ends_the_run(monkeypatch):
    import socket

    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    monkeypatch.setattr(benchmark_load, "ANSWER_TIMEOUT_S", 0.5)
    job = {
        "host": "127.0.0.1",
        "port": silent.getsockname()[1],
        "token": "secret",
        "concurrency": 2,
        "bodies": [{"id": "B-1"}, {"id": "B-2"}],
    }
    try:
        with pytest.raises(TimeoutError, match="no answer within 0.5 s on 2 connections"):
            benchmark_load.run(job)
    finally:
        silent.close()
