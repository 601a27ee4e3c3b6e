"""gunicorn's threaded worker, with keep-alive connections spread evenly over the workers.

gunicorn's `gthread` workers all wait on the one listening socket, and whichever wakes
first takes the connection. When a bank system opens its connections together, one
worker often takes most of them: measured with 16 clients on 3 workers x 2 threads, one
worker held 14 connections and another 2, and the third none. A keep-alive connection
stays with the worker that accepted it, so the 14 clients waited 63 ms a request on
average while the 2 waited 9 ms, and the API's p99 followed the crowded worker.

`BalancedThreadWorker` accepts a connection only while it holds no more open connections
than the least loaded of its siblings. The counts live in a small table of shared memory
created in gunicorn's arbiter before it forks the workers: each worker writes its own
count before it waits for events and reads the others'. A worker that may not accept
looks again every few milliseconds; the least loaded worker always may, so a new
connection never waits for a crowded one. A slot is given to each worker when the arbiter
creates it; it is freed when the worker starts to stop, when the arbiter sees its process
end (`child_exit` in secureflow/gunicorn_conf.py), or, for a worker killed without either,
when a sibling finds its process gone.

Use it with `--worker-class secureflow.gunicorn_worker.BalancedThreadWorker` (the default
in secureflow/gunicorn_conf.py).
"""

import mmap
import os
import struct
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 64  # more workers than a machine runs
# how often a worker that may not accept looks at its siblings' counts again
RECHECK_S = 0.005
_SLOT = struct.Struct("qq")  # process id (0: free, -1: given, not started), connections


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ConnectionTable:
    """Open connections per worker, in anonymous shared memory inherited across fork."""

    def __init__(self, slots: int = SLOTS) -> None:
        self.slots = slots
        self._memory = mmap.mmap(-1, _SLOT.size * slots)
        self._table = struct.Struct(f"{2 * slots}q")

    def _read(self, index: int) -> tuple[int, int]:
        return _SLOT.unpack_from(self._memory, index * _SLOT.size)

    def _write(self, index: int, pid: int, connections: int) -> None:
        _SLOT.pack_into(self._memory, index * _SLOT.size, pid, connections)

    def give(self) -> int:
        """A free slot (the arbiter, creating a worker); a slot whose process has ended
        is free again."""
        for index in range(self.slots):
            pid, _ = self._read(index)
            if pid == 0 or (pid > 0 and not _alive(pid)):
                self._write(index, -1, 0)
                return index
        raise RuntimeError(f"more than {self.slots} gunicorn workers")

    def start(self, index: int, pid: int) -> None:
        self._write(index, pid, 0)

    def free(self, index: int) -> None:
        self._write(index, 0, 0)

    def release(self, index: int, pid: int) -> None:
        """Free the slot if it is still this process's (given to it, or started by it)."""
        if self._read(index)[0] in (pid, -1):
            self.free(index)

    def count(self, index: int, connections: int) -> None:
        struct.pack_into("q", self._memory, index * _SLOT.size + 8, connections)

    def fewest(self) -> int | None:
        """The fewest connections a running worker holds. A worker that ended without
        its slot being freed (killed) is found here the first time it would count, and
        its slot freed."""
        while True:
            values = self._table.unpack_from(self._memory)
            running = [
                (values[i + 1], i // 2, values[i])
                for i in range(0, len(values), 2)
                if values[i] > 0
            ]
            if not running:
                return None
            connections, index, pid = min(running)
            if pid == os.getpid() or _alive(pid):
                return connections
            self.free(index)


CONNECTIONS = ConnectionTable()


class BalancedThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # in the arbiter, before the fork
        self.connection_slot = CONNECTIONS.give()

    def init_process(self) -> None:
        CONNECTIONS.start(self.connection_slot, os.getpid())
        super().init_process()

    def _may_accept(self) -> bool:
        if not self.alive:
            # stopping: no new connections here, and its siblings no longer count it
            CONNECTIONS.release(self.connection_slot, os.getpid())
            return False
        CONNECTIONS.count(self.connection_slot, self.nr_conns)
        if self.nr_conns >= self.worker_connections:
            return False
        fewest = CONNECTIONS.fewest()
        return fewest is None or self.nr_conns <= fewest

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self._may_accept())

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        accepting = self._may_accept()
        super().set_accept_enabled(accepting)
        super().wait_for_and_dispatch_events(timeout if accepting else min(timeout, RECHECK_S))
