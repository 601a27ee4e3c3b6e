"""Benchmark the real-time API end to end: gunicorn + database, load from another process.

    python manage.py benchmark_api [--requests N] [--concurrency 1,16] [--runs K]
        [--workers W] [--threads T] [--worker-class sync|balanced|gthread] [--json PATH]

What it does, against the configured database (PostgreSQL when DATABASE_URL says so):

1. Prepares: the database schema (`migrate`); demo data and trained models through
   `setup_demo` when the database has no transactions / no active model (small sizes:
   --demo-customers, --demo-days); a user `benchmark-api` in the Investigator role with
   an API key (made for the run, the earlier one revoked); on PostgreSQL, VACUUM ANALYZE
   (as autovacuum would have after a bulk load) and every account's feature summary (as
   real-time decisions keep them up to date).
2. Starts gunicorn (`secureflow.wsgi`, production settings, secureflow/gunicorn_conf.py:
   workers that load the models and SHAP explainers before taking requests) on a free
   127.0.0.1 port, laid out as the README's production command: 4 sync workers (a free
   worker takes the next connection; behind the bank's load balancer), or with
   --worker-class balanced the threaded workers `make run` uses. Rate limiting stays on,
   with the score rate set by --score-rate.
3. Builds request bodies from stored transactions (account, customer, counterparty,
   amount, type, country, channel of a random sample), with new ids and timestamps that
   continue after the newest stored transaction at the bank's own average pace, so
   velocity and history features see a realistic stream.
4. For each run and concurrency level, a separate Python process
   (`transactions.benchmark_load`) POSTs the bodies over keep-alive connections (a new
   connection after each answer that closes its own, as sync workers' do) and
   reports latency percentiles and throughput; a warm-up phase first loads the models in
   every worker. Afterwards every answered id is checked in the database (transaction and
   score stored); any non-2xx answer or missing row fails the command.
5. Prints the figures (with the CPU time the web workers and the database sessions spent
   per request, read from /proc on Linux: the machine-independent part of the cost),
   their medians over the runs, and writes them to --json.

The benchmark transactions (ids BENCH-...) stay in the database: run it on a benchmark
database, not on live data.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Max, Min

from detection.models import ModelVersion, TransactionScore
from secureflow.core import roles
from secureflow.core.api_keys import api_key_create, api_key_revoke
from transactions.models import Transaction

BENCH_USER = "benchmark-api"
SAMPLE_ROWS = 5000
ROOT = Path(settings.BASE_DIR)
WORKER_CLASSES = {
    "balanced": "secureflow.gunicorn_worker.BalancedThreadWorker",
    "gthread": "gthread",
    "sync": "sync",
}


def database_url() -> str:
    """The URL of the database this process uses (for the server process)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{params['NAME']}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return float(statistics.median(values)) if values else None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of one process (Linux /proc; None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_snapshot(pids: list[int]) -> dict[int, float]:
    return {pid: cpu for pid in pids if (cpu := _cpu_seconds(pid)) is not None}


def _cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots: by the processes alive at both, and all of
    the CPU of those that started in between (a database session opened during the phase)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _database_backends() -> list[int]:
    """Server process ids of the other sessions on this database, when it runs here."""
    host = connection.settings_dict.get("HOST") or "localhost"
    if connection.vendor != "postgresql" or host not in ("127.0.0.1", "localhost", "::1"):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


class Command(BaseCommand):
    help = "Latency and throughput of POST /api/v1/transactions/ through gunicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=2000, help="per level and run")
        parser.add_argument("--concurrency", default="1,16", help="client counts, e.g. 1,16")
        parser.add_argument("--runs", type=int, default=1, help="repeat; medians reported")
        parser.add_argument("--warmup", type=int, default=200, help="requests before timing")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
        parser.add_argument(
            "--threads", type=int, default=2, help="threads per process (not for sync)"
        )
        parser.add_argument(
            "--worker-class",
            choices=sorted(WORKER_CLASSES),
            default="sync",
            help="gunicorn workers: sync (the production layout: one request per connection, "
            "a free worker takes the next one; --threads is then 1), balanced (gthread, "
            "keep-alive connections spread evenly over the workers; the default of "
            "secureflow/gunicorn_conf.py and `make run`) or gthread (gunicorn's own: "
            "whichever worker wakes first takes a connection)",
        )
        parser.add_argument(
            "--score-rate",
            default="1000000/min",
            help="SECUREFLOW_API_RATE_SCORE for the server (the limiter still runs)",
        )
        parser.add_argument("--demo-customers", type=int, default=200)
        parser.add_argument("--demo-days", type=int, default=30)
        parser.add_argument("--json", dest="json_path", help="write the figures here")

    def handle(self, *args: object, **options: Any) -> None:
        if options["worker_class"] == "sync":
            options["threads"] = 1  # gunicorn would switch a threaded sync worker to gthread
        levels = [int(part) for part in str(options["concurrency"]).split(",") if part.strip()]
        if not levels or min(levels) < 1 or options["requests"] < 1 or options["runs"] < 1:
            raise CommandError("--requests, --runs and every --concurrency must be >= 1")
        token = self._prepare(options)
        bodies = self._bodies(
            options["warmup"] + options["runs"] * len(levels) * options["requests"]
        )
        port = free_port()
        config = {
            "database": connection.vendor,
            "server": f"gunicorn {options['worker_class']}",
            "workers": options["workers"],
            "threads": options["threads"],
            "requests_per_level": options["requests"],
            "concurrency": levels,
            "runs": options["runs"],
            "warmup": options["warmup"],
            "cpus": os.cpu_count(),
            "stored_transactions_before": Transaction.objects.count(),
            "load_average_before": list(os.getloadavg()),
        }
        self.stdout.write(
            f"benchmark_api: {config['database']}, {config['stored_transactions_before']:,} "
            f"stored transactions; {config['server']} {options['workers']} workers x "
            f"{options['threads']} threads on 127.0.0.1:{port}"
        )
        server = self._server = self._start_server(port, options)
        try:
            self._wait_ready(port, token, server)
            cursor = 0
            if options["warmup"]:
                warm = self._drive(
                    port, token, bodies[: options["warmup"]], max(levels), phase="warm-up"
                )
                cursor = options["warmup"]
                self.stdout.write(f"  warm-up: {warm['requests']} requests, {warm['statuses']}")
            runs: list[dict[str, dict[str, Any]]] = []
            for run in range(options["runs"]):
                figures: dict[str, dict[str, Any]] = {}
                for level in levels:
                    chunk = bodies[cursor : cursor + options["requests"]]
                    cursor += len(chunk)
                    result = self._drive(port, token, chunk, level, phase=f"run {run + 1}")
                    figures[str(level)] = result
                    self.stdout.write(
                        f"  run {run + 1}, {level:>3} clients: p50 {result['p50_ms']:.2f} ms, "
                        f"p99 {result['p99_ms']:.2f} ms, {result['throughput_per_s']:.0f} "
                        f"scored and stored/s ({result['requests']} requests, "
                        f"{result['statuses']}){self._cpu_text(result)}"
                    )
                runs.append(figures)
        finally:
            self._stop_server(server)

        median = {
            str(level): {
                key: median_of([run[str(level)] for run in runs], key)
                for key in (
                    "p50_ms",
                    "p90_ms",
                    "p99_ms",
                    "mean_ms",
                    "throughput_per_s",
                    "server_cpu_ms_per_request",
                    "database_cpu_ms_per_request",
                )
            }
            for level in levels
        }
        for level in levels:
            figures = median[str(level)]
            self.stdout.write(
                f"median of {options['runs']} run(s), {level:>3} clients: "
                f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms, "
                f"throughput {figures['throughput_per_s']:.0f}/s{self._cpu_text(figures)}"
            )
        results = {"config": config, "runs": runs, "median": median}
        if options.get("json_path"):
            Path(options["json_path"]).write_text(json.dumps(results, indent=2))
            self.stdout.write(f"wrote {options['json_path']}")

    @staticmethod
    def _cpu_text(figures: dict[str, Any]) -> str:
        web, db = (
            figures.get("server_cpu_ms_per_request"),
            figures.get("database_cpu_ms_per_request"),
        )
        parts = []
        if web is not None:
            parts.append(f"web CPU {web:.1f} ms")
        if db is not None:
            parts.append(f"database CPU {db:.1f} ms")
        return f"; per request: {', '.join(parts)}" if parts else ""

    # -- preparation ----------------------------------------------------------------------
    def _prepare(self, options: dict[str, Any]) -> str:
        call_command("migrate", interactive=False, verbosity=0)
        if (
            not Transaction.objects.exists()
            or not ModelVersion.objects.filter(is_active=True).exists()
        ):
            call_command(
                "setup_demo",
                customers=options["demo_customers"],
                days=options["demo_days"],
                stdout=self.stdout,
            )
        roles.ensure_role_groups()
        user, created = get_user_model().objects.get_or_create(username=BENCH_USER)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=roles.INVESTIGATOR))
        for earlier in user.api_keys.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=earlier)  # one live key: the one made for this run
        issued = api_key_create(user=user, name="benchmark_api")
        if connection.vendor == "postgresql":
            # the counterparties' per-day counts folded, as the beat task does; then what
            # autovacuum does after a bulk load: planner statistics and the visibility map
            # (index-only scans); and every account's feature summary, as a live system's
            # real-time decisions keep them (rebuild_feature_summaries)
            call_command("counterparty_days", stdout=self.stdout)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            call_command("rebuild_feature_summaries", stdout=self.stdout)
        return issued.key

    def _bodies(self, count: int) -> list[dict[str, Any]]:
        """`count` request bodies replaying sampled stored transactions forward in time."""
        span = Transaction.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
        stored = Transaction.objects.count()
        pace = (span["last"] - span["first"]) / max(stored - 1, 1)
        pace = max(pace, timedelta(milliseconds=1))
        sample = list(
            Transaction.objects.order_by("?").values_list(
                "account__number",
                "account__customer__external_id",
                "counterparty__identifier",
                "counterparty__country",
                "amount",
                "currency",
                "transfer_type",
                "country",
                "channel",
            )[:SAMPLE_ROWS]
        )
        tag = uuid.uuid4().hex[:10]
        bodies = []
        for i in range(count):
            account, customer, cp, cp_country, amount, currency, kind, country, channel = sample[
                i % len(sample)
            ]
            bodies.append(
                {
                    "id": f"BENCH-{tag}-{i:07d}",
                    "timestamp": (span["last"] + pace * (i + 1)).isoformat(),
                    "account": account,
                    "customer": customer,
                    "counterparty": cp or "",
                    "counterparty_country": cp_country or "",
                    "amount": str(amount),
                    "currency": currency,
                    "transfer_type": kind,
                    "country": country,
                    "channel": channel,
                }
            )
        return bodies

    # -- server -------------------------------------------------------------------------
    def _start_server(self, port: int, options: dict[str, Any]) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "secureflow.settings.production",
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "False",
            "DATABASE_URL": database_url(),
            "SECUREFLOW_VAR_DIR": str(settings.VAR_DIR),
            "SECUREFLOW_MODEL_DIR": str(settings.SECUREFLOW_MODEL_DIR),
            "SECUREFLOW_API_RATE_SCORE": options["score_rate"],
            "SECUREFLOW_LOG_LEVEL": "WARNING",
            # connections kept for the whole run, so that their CPU time can be read
            "DATABASE_CONN_MAX_AGE": "3600",
            # numpy's BLAS threads would spin on the cores the workers and database need
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in _stop_server
            prefix="benchmark_api-gunicorn-", suffix=".log", delete=False
        )
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:secureflow.gunicorn_conf",
                "secureflow.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(options["workers"]),
                "--threads",
                str(options["threads"]),
                "--worker-class",
                WORKER_CLASSES[options["worker_class"]],
                "--keep-alive",
                "30",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _server_log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def _wait_ready(self, port: int, token: str, server: subprocess.Popen) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/transactions/?limit=1",
            headers={"Authorization": f"Token {token}"},
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"gunicorn exited early:\n{self._server_log()}")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise CommandError(f"gunicorn did not answer in 90 s:\n{self._server_log()}")

    def _stop_server(self, server: subprocess.Popen) -> None:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    # -- load ---------------------------------------------------------------------------
    def _drive(
        self, port: int, token: str, bodies: list[dict[str, Any]], concurrency: int, *, phase: str
    ) -> dict[str, Any]:
        job = {
            "host": "127.0.0.1",
            "port": port,
            "token": token,
            "concurrency": concurrency,
            "bodies": bodies,
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(job, handle)
        linux = Path("/proc/self/stat").exists()
        workers = _children(self._server.pid) if linux else []
        backends = _database_backends() if linux else []
        cpu_before = [_cpu_snapshot(pids) for pids in (workers, backends)]
        try:
            done = subprocess.run(
                [sys.executable, "-m", "transactions.benchmark_load", handle.name],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
        finally:
            Path(handle.name).unlink(missing_ok=True)
        if done.returncode != 0:
            raise CommandError(f"load process failed ({phase}):\n{done.stderr[-4000:]}")
        result = json.loads(done.stdout)
        # CPU spent per request by the web workers and the database sessions (a session
        # closed during the phase is not counted: connections live for CONN_MAX_AGE)
        if linux:
            backends = sorted(set(backends) | set(_database_backends()))
        cpu_after = [_cpu_snapshot(pids) for pids in (workers, backends)]
        for key, pids, before, after in zip(
            ("server_cpu_ms_per_request", "database_cpu_ms_per_request"),
            (workers, backends),
            cpu_before,
            cpu_after,
            strict=True,
        ):
            result[key] = _cpu_spent(before, after) * 1000 / len(bodies) if pids else None
        self._verify(result, bodies, phase=phase)
        result["persisted"] = len(result.pop("answered_ids"))
        return result

    def _verify(self, result: dict[str, Any], bodies: list[dict[str, Any]], *, phase: str) -> None:
        """Every request answered 2xx, and each answered transaction stored with a score."""
        bad = {k: v for k, v in result["statuses"].items() if k not in ("200", "201")}
        if bad:
            raise CommandError(
                f"{phase}: non-2xx answers {bad}; samples {result['error_samples']}; "
                f"transport errors {result['transport_errors']}\n{self._server_log()}"
            )
        ids = [body["id"] for body in bodies]
        stored = scored = 0
        for start in range(0, len(ids), 2000):
            chunk = ids[start : start + 2000]
            stored += Transaction.objects.filter(external_id__in=chunk).count()
            scored += TransactionScore.objects.filter(transaction__external_id__in=chunk).count()
        if not (stored == scored == len(ids) == len(result["answered_ids"])):
            raise CommandError(
                f"{phase}: {len(ids)} requests, {len(result['answered_ids'])} answered 2xx, "
                f"{stored} transactions and {scored} scores stored"
            )
