"""Server time of the investigators' pages, rendered through the Django test client (the
whole middleware, view and template stack) against the configured database.

    python manage.py benchmark_pages [--renders 100] [--warmup 5] [--json PATH]
    python manage.py benchmark_pages --page "transactions=/api/v1/transactions/"

The transactions API's list is measured too (first page, the busiest account, pages
10,000 / 100,000 / 500,000 rows deep where the table is that large). Pages are the PAGES
list below: (name, url) where url is a path, or a callable returning a
path or a list of paths (renders rotate through them), evaluated once the database is
there. Add a page area by appending to PAGES (or --page NAME=URL for a one-off).
"""

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import ACTIVE_STATUSES
from cases.models import Case
from secureflow.core import roles
from secureflow.core.pagination import KeysetPagination, encode_cursor
from transactions.models import Transaction

PageUrl = str | Callable[[], str | list[str] | None]
DETAIL_CASES = 20
DEFAULT_USERNAME = "benchmark-pages"


def _queue() -> str:
    return reverse("cases:queue")


def _queue_filtered() -> str:
    return f"{reverse('cases:queue')}?outcome=review&min_amount=1000&sort=sla&page=2"


def _queue_closed_by_amount() -> str:
    return f"{reverse('cases:queue')}?status=&sort=-amount"


def _top_case_details() -> list[str]:
    """The case pages of the most urgent active cases (what investigators open first)."""
    ids = (
        Case.objects.filter(status__in=ACTIVE_STATUSES)
        .order_by("-priority", "sla_due_at", "id")
        .values_list("id", flat=True)[:DETAIL_CASES]
    )
    return [reverse("cases:detail", args=[pk]) for pk in ids]


API_TRANSACTIONS = "/api/v1/transactions/"
DEEP_API_ROWS = (10_000, 100_000, 500_000)


def _api_deep_pages() -> list[str] | None:
    """Pages of the transactions API that start deep in the list (as a client paging
    through a long date range reaches them), where the table is that large."""
    newest_first = Transaction.objects.order_by(*KeysetPagination.ordering)
    fields = [name.lstrip("-") for name in KeysetPagination.ordering]
    urls = []
    for depth in DEEP_API_ROWS:
        row = next(iter(newest_first.values_list(*fields)[depth : depth + 1]), None)
        if row is not None:
            urls.append(f"{API_TRANSACTIONS}?cursor={encode_cursor(row)}")
    return urls or None


def _api_account_page() -> str | None:
    busiest = (
        Transaction.objects.values("account__number")
        .order_by()
        .annotate(n=models.Count("id"))
        .order_by("-n")
        .values_list("account__number", flat=True)
        .first()
    )
    return f"{API_TRANSACTIONS}?account={busiest}" if busiest else None


TRANSACTION_LIST = "/transactions/"


def _list_deep_pages() -> list[str] | None:
    """The transaction list page from 100,000 rows deep (its `Older` link there)."""
    urls = _api_deep_pages()
    return [url.replace(API_TRANSACTIONS, TRANSACTION_LIST, 1) for url in urls] if urls else None


def _list_busiest_account() -> str | None:
    url = _api_account_page()
    return url.replace(API_TRANSACTIONS, TRANSACTION_LIST, 1) if url else None


def _list_flagged_export() -> str:
    return f"{TRANSACTION_LIST}?outcome=block&format=csv"


# (name, url): extend this list to measure more pages.
PAGES: list[tuple[str, PageUrl]] = [
    ("case queue", _queue),
    ("case queue (filtered, SLA order, page 2)", _queue_filtered),
    ("case queue (all statuses, by amount)", _queue_closed_by_amount),
    ("case detail", _top_case_details),
    ("dashboard (default range)", "/dashboard/"),
    ("check a transaction (form)", "/check/"),
    ("settings", "/settings/"),
    ("API transactions (first page)", API_TRANSACTIONS),
    ("API transactions (busiest account)", _api_account_page),
    ("API transactions (pages 10k, 100k, 500k rows deep)", _api_deep_pages),
    ("transaction list (first page)", TRANSACTION_LIST),
    ("transaction list (busiest account)", _list_busiest_account),
    ("transaction list (pages 10k, 100k, 500k rows deep)", _list_deep_pages),
    ("transaction list (blocked ones as CSV)", _list_flagged_export),
]


def _urls(url: PageUrl) -> list[str]:
    value = url() if callable(url) else url
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


class Command(BaseCommand):
    help = "Measure server time of the case pages (p50/p99 over N renders)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--renders", type=int, default=100, help="timed renders per page")
        parser.add_argument("--warmup", type=int, default=5, help="untimed renders per page")
        parser.add_argument(
            "--username",
            default=DEFAULT_USERNAME,
            help="render as this user; created with the Investigator role if missing",
        )
        parser.add_argument(
            "--page",
            action="append",
            default=[],
            metavar="NAME=URL",
            help="also measure this page (repeatable)",
        )
        parser.add_argument("--only", action="append", default=[], help="only pages named so")
        parser.add_argument("--json", dest="json_path", help="write the figures here as JSON")

    def handle(self, *args: object, **options: Any) -> None:
        renders, warmup = int(options["renders"]), int(options["warmup"])
        if renders < 1 or warmup < 0:
            raise CommandError("--renders must be at least 1 and --warmup at least 0")
        pages = list(PAGES)
        for spec in options["page"]:
            name, sep, url = spec.partition("=")
            if not sep or not name or not url.startswith("/"):
                raise CommandError(f"--page wants NAME=/path, not {spec!r}")
            pages.append((name, url))
        if options["only"]:
            pages = [(name, url) for name, url in pages if name in options["only"]]
            if not pages:
                raise CommandError("no page matches --only")

        client = self._client(options["username"])
        secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
        report: dict[str, Any] = {
            "database": connection.vendor,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "debug": settings.DEBUG,
            "transactions": Transaction.objects.count(),
            "cases": Case.objects.count(),
            "active_cases": Case.objects.filter(status__in=ACTIVE_STATUSES).count(),
            "renders": renders,
            "warmup": warmup,
            "pages": {},
        }
        self.stdout.write(
            f"{report['database']}: {report['transactions']:,} transactions, "
            f"{report['cases']:,} cases ({report['active_cases']:,} active); "
            f"{renders} renders per page after {warmup} warm-up"
            + (f"; load average {report['load_average'][0]:.1f}" if report["load_average"] else "")
        )
        self.stdout.write(
            f"{'page':<44} {'p50 ms':>8} {'p99 ms':>8} {'mean':>8} {'max':>8} "
            f"{'cpu p50':>8} {'queries':>8}"
        )
        failures: list[str] = []
        for name, url in pages:
            urls = _urls(url)
            if not urls:
                self.stdout.write(f"{name:<44} skipped: nothing to show")
                report["pages"][name] = {"skipped": "nothing to show"}
                continue
            try:
                figures = self._measure(client, urls, renders=renders, warmup=warmup, secure=secure)
            except Exception as error:  # noqa: BLE001 - reported, the other pages still run
                failures.append(f"{name}: {error}")
                report["pages"][name] = {"error": str(error)}
                self.stderr.write(f"{name:<44} failed: {error}")
                continue
            report["pages"][name] = figures
            self.stdout.write(
                f"{name:<44} {figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f} "
                f"{figures['mean_ms']:>8.1f} {figures['max_ms']:>8.1f} "
                f"{figures['cpu_p50_ms']:>8.1f} {figures['queries']:>8}"
            )
        if options["json_path"]:
            path = Path(options["json_path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2))
            self.stdout.write(f"Wrote {path}")
        if failures:
            raise CommandError("some pages could not be measured: " + "; ".join(failures))

    def _client(self, username: str) -> Client:
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            roles.ensure_role_groups()
            user = User.objects.create_user(**{User.USERNAME_FIELD: username})
            user.set_unusable_password()
            user.save()
            user.groups.add(Group.objects.get(name=roles.INVESTIGATOR))
        if not roles.is_investigator(user):
            raise CommandError(f"{username} has no role that may see the case pages")
        hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h and h != "*"]
        client = Client(HTTP_HOST=hosts[0] if hosts else "localhost")
        client.force_login(user)
        return client

    def _measure(
        self, client: Client, urls: list[str], *, renders: int, warmup: int, secure: bool
    ) -> dict[str, Any]:
        def get(i: int) -> int:
            response = client.get(urls[i % len(urls)], secure=secure)
            if response.status_code != 200:
                raise CommandError(f"{urls[i % len(urls)]} answered {response.status_code}")
            if response.streaming:  # a CSV export: the whole body is part of its time
                return sum(len(chunk) for chunk in response.streaming_content)
            return len(response.content)

        for i in range(warmup):
            get(i)
        with CaptureQueriesContext(connection) as queries:
            size = get(0)
        query_count = len(queries)  # now: the next request clears the query log
        timings = np.empty(renders)
        cpu = np.empty(renders)
        for i in range(renders):
            started, cpu_started = time.perf_counter(), time.process_time()
            get(i)
            timings[i] = (time.perf_counter() - started) * 1000
            cpu[i] = (time.process_time() - cpu_started) * 1000
        return {
            "urls": urls if len(urls) <= 3 else [*urls[:3], f"... {len(urls)} in all"],
            "p50_ms": round(_percentile(timings, 50), 2),
            "p99_ms": round(_percentile(timings, 99), 2),
            "mean_ms": round(statistics.fmean(timings), 2),
            "min_ms": round(float(timings.min()), 2),
            "max_ms": round(float(timings.max()), 2),
            # CPU time of this process only (Python: view, ORM, templates), without the
            # database server's share: steadier than wall time on a busy machine.
            "cpu_p50_ms": round(_percentile(cpu, 50), 2),
            "cpu_p99_ms": round(_percentile(cpu, 99), 2),
            "queries": query_count,
            "bytes": size,
        }
