"""Keep-alive connections spread over the web server's workers (BalancedThreadWorker), in
a real gunicorn with 3 worker processes on loopback."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answer(sock: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return body.decode()


class Server:
    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.log = tmp_path / "gunicorn.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--worker-class",
                "secureflow.gunicorn_worker.BalancedThreadWorker",
                "--workers",
                str(WORKERS),
                "--threads",
                "2",
                "--keep-alive",
                "30",
                "--bind",
                f"127.0.0.1:{self.port}",
                "tests.core.worker_pid_app:application",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.open: list[socket.socket] = []

    def booted(self, count: int) -> None:
        """Wait until `count` workers have booted in all, then let them reach their loop."""
        deadline = time.monotonic() + 60
        while self.log.read_text().count("Booting worker") < count:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)
        time.sleep(1.5)

    def connect_together(self, count: int) -> list[int]:
        """Open `count` connections at once, one request on each; they stay open. The
        process id that answered on each."""
        new = [socket.create_connection(("127.0.0.1", self.port), timeout=10) for _ in range(count)]
        for sock in new:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
        self.open.extend(new)
        return [int(_answer(sock)) for sock in new]

    def stop(self) -> None:
        for sock in self.open:
            sock.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self._log_file.close()


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_connections_opened_together_are_shared_evenly(server):
    server.booted(WORKERS)

    per_worker = Counter(server.connect_together(12))

    assert len(per_worker) == WORKERS
    assert sorted(per_worker.values()) == [4, 4, 4]


def test_a_killed_worker_does_not_stop_new_connections(server):
    server.booted(WORKERS)
    first = Counter(server.connect_together(6))
    killed = next(iter(first))
    os.kill(killed, signal.SIGKILL)
    server.booted(WORKERS + 1)  # the arbiter starts a replacement

    later = Counter(server.connect_together(6))

    assert killed not in later
    held = Counter({pid: n for pid, n in first.items() if pid != killed}) + later
    assert sum(later.values()) == 6
    assert max(held.values()) - min(held.values()) <= 1, held


def test_a_stopping_worker_takes_no_new_connections(server):
    server.booted(WORKERS)
    first = Counter(server.connect_together(3))
    stopping = next(iter(first))
    os.kill(stopping, signal.SIGTERM)  # graceful: it keeps its connection open for a while
    time.sleep(0.3)

    later = Counter(server.connect_together(6))

    assert stopping not in later
    assert sum(later.values()) == 6
