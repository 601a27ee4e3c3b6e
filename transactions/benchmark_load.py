"""HTTP load for `manage.py benchmark_api`: a separate process, standard library only.

    python -m transactions.benchmark_load JOB.json

JOB holds: host, port, token, concurrency, bodies (request bodies, sent in order, each
once). C threads each keep one HTTP/1.1 keep-alive connection and POST the next body
until none is left. Prints one JSON object: per-request latency percentiles (ms, from
sending the request to reading the whole response), throughput, status counts, and the
ids answered 201/200. Never imports Django, so its CPU cost is only the client's.
"""

import http.client
import json
import sys
import threading
import time
from collections import Counter
from typing import Any

PATH = "/api/v1/transactions/"


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (as numpy's default) of sorted values."""
    if not sorted_values:
        return 0.0
    position = (len(sorted_values) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def run(job: dict[str, Any]) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = job["bodies"]
    encoded = [json.dumps(body).encode() for body in bodies]
    headers = {
        "Authorization": f"Token {job['token']}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Connection": "keep-alive",
    }
    next_index = iter(range(len(encoded)))
    take = threading.Lock()
    latencies: list[float] = [0.0] * len(encoded)
    statuses: list[int] = [0] * len(encoded)
    errors: list[str] = []
    samples: dict[int, str] = {}

    def worker() -> None:
        connection = http.client.HTTPConnection(job["host"], job["port"], timeout=60)
        while True:
            with take:
                i = next(next_index, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                connection.request("POST", PATH, body=encoded[i], headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection(job["host"], job["port"], timeout=60)
                errors.append(f"{type(error).__name__}: {error}")
                status, payload = 0, b""
            latencies[i] = (time.perf_counter() - started) * 1000.0
            statuses[i] = status
            if status not in (200, 201) and status not in samples:
                samples[status] = payload[:500].decode(errors="replace")
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(job["concurrency"])]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
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
