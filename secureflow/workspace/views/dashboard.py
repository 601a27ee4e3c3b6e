"""The dashboard: volumes, flags, scores, reasons, feedback, alerts, cases, models."""

import math
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from secureflow.core import roles
from secureflow.core.permissions import investigator_required
from secureflow.workspace.forms import DateRangeForm
from secureflow.workspace.selectors import (
    Dashboard,
    dashboard,
    dashboard_default_range,
    model_health,
    refused_models,
)

QUICK_RANGES = (7, 30, 90)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def chart_data(board: Dashboard) -> dict[str, Any]:
    """The numbers the charts draw (the tables next to them show the same)."""
    review, block = board.thresholds
    data: dict[str, Any] = {
        "days": [d["day"].isoformat() for d in board.days],
        "transactions": [d["transactions"] for d in board.days],
        "flagged": [d["flagged"] for d in board.days],
        "review": [d["review"] for d in board.days],
        "block": [d["block"] for d in board.days],
        "flag_rate": [
            round(d["flag_rate"] * 100, 3) if d["flag_rate"] is not None else None
            for d in board.days
        ],
        "histogram_labels": [f"{b['low']:.2f}–{b['high']:.2f}" for b in board.histogram],
        "histogram": [b["count"] for b in board.histogram],
        "histogram_low": [b["low"] for b in board.histogram],
        "review_threshold": _finite(review),
        "block_threshold": _finite(block),
        "rules": [r["name"] for r in board.top_rules],
        "rule_counts": [r["count"] for r in board.top_rules],
    }
    if board.alerts is not None:
        data["alerts"] = [a["total"] for a in board.alerts]
    return data


def _day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def tables(board: Dashboard) -> dict[str, list[dict[str, Any]]]:
    """The tables under the charts, formatted here once (a template filter per cell costs
    more than the rest of the page)."""
    return {
        "daily": [
            {
                "iso": d["day"].isoformat(),
                "label": _day_label(d["day"]),
                "cells": (
                    str(d["transactions"]),
                    str(d["scored"]),
                    str(d["review"]),
                    str(d["block"]),
                    f"{d['flag_rate_pct']:.2f} %" if d["flag_rate"] is not None else "—",
                ),
            }
            for d in board.days
        ],
        "histogram": [
            {"label": f"{b['low']:.2f}–{b['high']:.2f}", "count": str(b["count"])}
            for b in board.histogram
        ],
        "alerts": [
            {"iso": a["day"].isoformat(), "label": _day_label(a["day"]), "total": str(a["total"])}
            for a in board.alerts or []
        ],
    }


@investigator_required
@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """Full page, or with HTMX just the body for the chosen range (the URL follows)."""
    form = DateRangeForm(request.GET or None)
    if form.is_bound and form.is_valid():
        date_from, date_to = form.range(dashboard_default_range)
    else:
        date_from, date_to = dashboard_default_range()
    board = dashboard(date_from=date_from, date_to=date_to)
    span = (date_to - date_from).days + 1
    context = {
        "form": form
        if form.is_bound
        else DateRangeForm(initial={"date_from": date_from, "date_to": date_to}),
        "board": board,
        # cached drift / shadow figures, if any (otherwise the page loads them after)
        "health": model_health(date_from=date_from, date_to=date_to, compute=False),
        "refused_models": refused_models(with_reasons=roles.is_admin(request.user)),
        "charts": chart_data(board),
        "tables": tables(board),
        "span": span,
        "quick_ranges": [
            {"days": n, "from": date_to - timedelta(days=n - 1), "to": date_to, "active": n == span}
            for n in QUICK_RANGES
        ],
        "previous": {"from": date_from - timedelta(days=span), "to": date_from - timedelta(days=1)},
        "next": {"from": date_to + timedelta(days=1), "to": date_to + timedelta(days=span)},
    }
    template = "workspace/dashboard.html"
    if request.htmx and not request.htmx.boosted:
        template = "workspace/partials/_dashboard_body.html"
    return render(request, template, context, status=422 if form.errors else 200)


@investigator_required
@require_GET
def model_health_panel(request: HttpRequest) -> HttpResponse:
    """Drift warnings and champion vs shadow for a range: loaded by the dashboard after
    its figures (HTMX), or a page of its own without JavaScript."""
    form = DateRangeForm(request.GET or None)
    if form.is_bound and form.is_valid():
        date_from, date_to = form.range(dashboard_default_range)
    else:
        date_from, date_to = dashboard_default_range()
    context = {
        "health": model_health(date_from=date_from, date_to=date_to),
        "date_from": date_from,
        "date_to": date_to,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "workspace/partials/_model_health.html", context)
    return render(request, "workspace/model_health.html", context)
