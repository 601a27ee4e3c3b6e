"""Server time of the dashboard and the check page, through the Django test client (the
whole middleware, view and template stack) against the configured database.

    python manage.py benchmark_dashboard [--renders 50] [--cold 5] [--checks 50]
        [--username benchmark-workspace] [--json PATH]

Dashboard scenarios: figures cached (the same range again within 15 s), rollup only (the
figures cache dropped before every render: what a cache miss costs when the rollup is up
to date), moving 7-day ranges (a different range every render), the HTMX body only, and
cold (the range's rollup rows deleted before every render: the first view of a range
nobody looked at; --cold renders, 0 to skip). Check page: the form, submissions through
HTMX after 3 untimed ones (stored and scored like an API submission: they write
transactions, scores and cases into the database) and the result page. Prints p50 / p99 /
mean / max in ms and the query count of one render.
"""

import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from detection.models import TransactionScore
from secureflow.core import roles
from secureflow.workspace import rollup, selectors
from secureflow.workspace.forms import LOCAL_INPUT, new_submission_id
from secureflow.workspace.models import DailyActivity
from transactions.models import Account, Transaction

DEFAULT_USERNAME = "benchmark-workspace"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


class Command(BaseCommand):
    help = "Measure server time of the dashboard and the check page (p50/p99)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--renders", type=int, default=50, help="timed renders per scenario")
        parser.add_argument("--cold", type=int, default=5, help="cold dashboard renders")
        parser.add_argument("--checks", type=int, default=50, help="check submissions")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--username",
            default=DEFAULT_USERNAME,
            help="render as this user; created as a Senior investigator if missing",
        )
        parser.add_argument("--json", dest="json_path", help="write the figures here as JSON")

    def handle(self, *args: object, **options: Any) -> None:
        renders, cold, checks = options["renders"], options["cold"], options["checks"]
        if renders < 1 or cold < 0 or checks < 0:
            raise CommandError("--renders must be at least 1, --cold and --checks at least 0")
        self.client = self._client(options["username"])
        self.secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
        self.rng = random.Random(options["seed"])
        date_from, date_to = selectors.dashboard_default_range()
        report: dict[str, Any] = {
            "database": connection.vendor,
            "debug": settings.DEBUG,
            "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
            "transactions": Transaction.objects.count(),
            "scores": TransactionScore.objects.count(),
            "default_range": [date_from.isoformat(), date_to.isoformat()],
            "transactions_in_range": Transaction.objects.filter(
                occurred_at__gte=rollup.day_start(date_from),
                occurred_at__lt=rollup.day_start(date_to + timedelta(days=1)),
            ).count(),
            "renders": renders,
            "scenarios": {},
        }
        self.stdout.write(
            f"{report['database']} ({report['cache']} cache): {report['transactions']:,} "
            f"transactions, {report['scores']:,} scores; default range {date_from} to "
            f"{date_to} with {report['transactions_in_range']:,} transactions"
        )
        self.stdout.write(
            f"{'scenario':<46} {'p50 ms':>8} {'p99 ms':>8} {'mean':>8} {'max':>8} {'queries':>8}"
        )
        url = reverse("workspace:dashboard")
        default_query = f"?date_from={date_from}&date_to={date_to}"
        key = f"workspace:dashboard:v{selectors.DASHBOARD_CACHE_VERSION}:{date_from}:{date_to}"
        self.client.get(url + default_query)  # the rollup for the default range exists

        def moving_range(i: int) -> tuple:
            end = date_to - timedelta(days=i % 150)
            return end - timedelta(days=6), end

        def moving(i: int) -> str:
            start, end = moving_range(i)
            return f"{url}?date_from={start}&date_to={end}"

        def drop_moving_figures(i: int) -> None:
            start, end = moving_range(max(i, 0))
            cache.delete(f"workspace:dashboard:v{selectors.DASHBOARD_CACHE_VERSION}:{start}:{end}")

        def drop_figures(i: int) -> None:
            cache.delete(key)

        def drop_rollup(i: int) -> None:
            cache.delete(key)
            DailyActivity.objects.filter(day__range=(date_from, date_to)).delete()

        for i in range(min(renders + 3, 150)):  # the rollup of the moving ranges exists too
            self.client.get(moving(i))
        scenarios: list[tuple[str, Callable[[int], str], Callable[[int], None] | None, dict]] = [
            ("dashboard, figures cached", lambda i: url + default_query, None, {}),
            ("dashboard, rollup only", lambda i: url + default_query, drop_figures, {}),
            ("dashboard, moving 7-day ranges", moving, drop_moving_figures, {}),
            ("dashboard, HTMX body only", lambda i: url + default_query, drop_figures, HTMX),
            ("settings", lambda i: reverse("workspace:settings"), None, {}),
            ("check page (form)", lambda i: reverse("workspace:check"), None, {}),
        ]
        for name, make_url, before, headers in scenarios:
            figures = self._measure(make_url, renders, before=before, headers=headers)
            self._row(report, name, figures)
        if cold:
            figures = self._measure(
                lambda i: url + default_query, cold, before=drop_rollup, headers={}, warmup=0
            )
            self._row(
                report, f"dashboard, cold rollup ({(date_to - date_from).days + 1} days)", figures
            )
        if checks:
            self._checks(report, checks)
        if options["json_path"]:
            path = Path(options["json_path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, default=str))
            self.stdout.write(f"Wrote {path}")

    # -- helpers ---------------------------------------------------------------------
    def _client(self, username: str) -> Client:
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            roles.ensure_role_groups()
            user = User.objects.create_user(**{User.USERNAME_FIELD: username})
            user.set_unusable_password()
            user.save()
            user.groups.add(Group.objects.get(name=roles.SENIOR_INVESTIGATOR))
        if not roles.is_investigator(user):
            raise CommandError(f"{username} has no role that may see these pages")
        hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h and h != "*"]
        client = Client(HTTP_HOST=hosts[0] if hosts else "localhost")
        client.force_login(user)
        return client

    def _row(self, report: dict[str, Any], name: str, figures: dict[str, Any]) -> None:
        report["scenarios"][name] = figures
        self.stdout.write(
            f"{name:<46} {figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f} "
            f"{figures['mean_ms']:>8.1f} {figures['max_ms']:>8.1f} {figures['queries']:>8}"
        )

    def _get(self, url: str, headers: dict[str, str]) -> None:
        response = self.client.get(url, secure=self.secure, **headers)
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}")

    def _measure(
        self,
        make_url: Callable[[int], str],
        renders: int,
        *,
        before: Callable[[int], None] | None,
        headers: dict[str, str],
        warmup: int = 3,
    ) -> dict[str, Any]:
        for i in range(warmup):
            if before:
                before(i)
            self._get(make_url(i), headers)
        if before:
            before(-1)
        with CaptureQueriesContext(connection) as queries:
            self._get(make_url(0), headers)
        query_count = len(queries)  # now: the next request clears the query log
        timings = np.empty(renders)
        for i in range(renders):
            if before:
                before(i)
            started = time.perf_counter()
            self._get(make_url(i), headers)
            timings[i] = (time.perf_counter() - started) * 1000
        return _figures(timings, query_count)

    def _checks(self, report: dict[str, Any], count: int) -> None:
        """Submissions through the check form (HTMX), then their result pages."""
        accounts = list(
            Account.objects.order_by("?").values_list("number", "customer__home_country")[:200]
        )
        if not accounts:
            raise CommandError("no accounts: load transactions first")
        url = reverse("workspace:check")
        outcomes: Counter = Counter()
        timings = np.empty(count)
        ids = []
        query_count = 0
        warmup = 3  # untimed: the first submission loads the models into this process
        for i in range(-warmup, count):
            number, home = self.rng.choice(accounts)
            data = {
                "submission_id": new_submission_id(),
                "account": number,
                "amount": f"{self.rng.lognormvariate(5.5, 1.4):.2f}",
                "transfer_type": self.rng.choice("OILQS"),
                "country": home or "AE",
                "counterparty": f"BENCH-PAYEE-{self.rng.randrange(400)}",
                "channel": "mobile",
                "occurred_at": timezone.localtime().strftime(LOCAL_INPUT),
            }
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                response = self.client.post(url, data, secure=self.secure, **HTMX)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise CommandError(
                    f"check answered {response.status_code}: {response.content[:500]}"
                )
            if i < 0:
                continue
            timings[i] = elapsed
            query_count = max(query_count, len(queries))
            ids.append(data["submission_id"])
        for outcome in TransactionScore.objects.filter(
            transaction__external_id__in=ids
        ).values_list("outcome", flat=True):
            outcomes[outcome] += 1
        figures = _figures(timings, query_count)
        figures["outcomes"] = dict(outcomes)
        self._row(report, "check: submit (HTMX, stored + scored)", figures)
        self.stdout.write(f"{'':<46} outcomes: {dict(outcomes)}; queries: the most of any")
        result = self._measure(
            lambda i: reverse("workspace:check-result", args=[ids[i % len(ids)]]),
            min(count, 50),
            before=None,
            headers={},
        )
        self._row(report, "check: result page", result)


def _figures(timings: np.ndarray, queries: int) -> dict[str, Any]:
    return {
        "p50_ms": round(_percentile(timings, 50), 2),
        "p99_ms": round(_percentile(timings, 99), 2),
        "mean_ms": round(statistics.fmean(timings), 2),
        "max_ms": round(float(timings.max()), 2),
        "renders": len(timings),
        "queries": queries,
    }
