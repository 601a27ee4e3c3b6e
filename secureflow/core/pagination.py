"""Pagination of API lists.

`ApiPagination`: limit/offset with a ceiling on the page size, for lists that stay small
or are sorted on request (batches, cases, alert deliveries).

`KeysetPagination`: for lists that grow with the bank's traffic (transactions). A page is
read from where the previous one ended (`WHERE (t, id) < (last t, last id)`, from the
index), so page 10,000 costs what page 1 costs, and no page counts the whole table. Rows
stored while a client pages never shift the rows it has not read yet. A `previous` link
reads the other way from where the page began (the same index, scanned backwards).

Why not DRF's `CursorPagination`: it positions a cursor on the first ordering field only
and steps over rows sharing that value by an offset, so a run of equal timestamps (a bank
export with minute-resolution times, a batch stamped at one moment) is scanned again on
every page that starts inside it; here the position is the whole (time, id) pair. And a
tampered cursor is a 400 naming `cursor`, as every other bad input of the API, not a 404.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
CURSOR_MAX_LENGTH = 200


class ApiPagination(LimitOffsetPagination):
    """`?limit=N&offset=M`; 50 rows by default, at most 1000 a page (a larger limit is
    cut to 1000, an offset past the end gives an empty page)."""

    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE


def keyset_after(ordering: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows after `values` in `ordering` (field names, `-` for descending): the
    lexicographic comparison, led by a plain bound on the first field so that the
    database can start its index scan there."""
    names = [name.lstrip("-") for name in ordering]
    beyond = ["lt" if name.startswith("-") else "gt" for name in ordering]
    condition = Q()
    for i in reversed(range(len(names))):
        step = Q(**{f"{names[i]}__{beyond[i]}": values[i]})
        condition = step if i == len(names) - 1 else step | (Q(**{names[i]: values[i]}) & condition)
    first_bound = "lte" if beyond[0] == "lt" else "gte"
    return Q(**{f"{names[0]}__{first_bound}": values[0]}) & condition


class InvalidCursor(ValueError):
    """A cursor that no page of this list handed out (edited, truncated, or of another list)."""


@dataclass(frozen=True)
class KeysetPage:
    """One page of a keyset list and where its neighbours start.

    `next_cursor` / `previous_cursor` are the `cursor` values of the links; with
    `has_next` set and `next_cursor` None, the next page is the list from its start
    (no cursor at all)."""

    rows: list[Any]
    has_next: bool
    has_previous: bool
    next_cursor: str | None
    previous_cursor: str | None


def keyset_page(
    queryset: QuerySet, *, ordering: Sequence[str], cursor: str | None, limit: int
) -> KeysetPage:
    """The page of `queryset` in `ordering` (whose last field must be unique) that
    `cursor` points to (None: the first page), at most `limit` rows. Raises
    InvalidCursor for a cursor this list did not hand out."""
    position, backwards = decode_cursor(cursor, model=queryset.model, ordering=ordering)
    order = _reversed(ordering) if backwards else tuple(ordering)
    if position is not None:
        queryset = queryset.filter(keyset_after(order, position))
    rows = list(queryset.order_by(*order)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        # read back from the cursor: the rows just before it, shown in list order
        rows.reverse()
        has_previous, has_next = more, position is not None
    else:
        has_previous, has_next = position is not None, more

    def values(row: Model) -> list[Any]:
        return [getattr(row, name.lstrip("-")) for name in ordering]

    next_cursor = previous_cursor = None
    if has_next and rows:
        next_cursor = encode_cursor(values(rows[-1]))
    # an empty page read back from its cursor: nothing lies before that row, so the rows
    # after the page are the list from its start (has_next without a cursor)
    if has_previous:
        # past the end (an empty page): nothing follows the cursor, so the list's last rows
        previous_cursor = encode_cursor(values(rows[0]) if rows else None, before=True)
    return KeysetPage(rows, has_next, has_previous, next_cursor, previous_cursor)


def decode_cursor(
    raw: str | None, *, model: type[Model], ordering: Sequence[str]
) -> tuple[list[Any] | None, bool]:
    """The cursor's ordering values (None without a cursor) and whether the page ends
    before them (a `previous` link) rather than starts after them."""
    if raw is None:
        return None, False
    if len(raw) > CURSOR_MAX_LENGTH:
        raise InvalidCursor(raw)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor(raw) from None
    backwards = isinstance(decoded, dict)
    if backwards:
        if set(decoded) != {"before"}:
            raise InvalidCursor(raw)
        decoded = decoded["before"]
        if decoded is None:
            return None, True
    if not isinstance(decoded, list) or len(decoded) != len(ordering):
        raise InvalidCursor(raw)
    values = []
    for name, value in zip(ordering, decoded, strict=True):
        field = model._meta.get_field(name.lstrip("-"))
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidCursor(raw)
        try:
            parsed = field.to_python(value)
            field.run_validators(parsed)
            if isinstance(parsed, datetime):
                if parsed.tzinfo is None:
                    raise InvalidCursor(raw)
                parsed = parsed.astimezone(UTC)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise InvalidCursor(raw) from None
        if parsed is None:
            raise InvalidCursor(raw)
        values.append(parsed)
    return values, backwards


class KeysetPagination(BasePagination):
    """`?limit=N` (1–1000, default 50) and `?cursor=` from a page's `next` or `previous`.

    The answer is `{"next": url or null, "previous": url or null, "results": [...]}`:
    `next` is null on the last page, `previous` on the first. Rows come in `ordering`,
    whose last field must be unique.
    `offset` is refused (400) so that a client written for offsets cannot loop over the
    first page forever.

    A cursor is the ordering values of the row a page starts after (`next`: a JSON list),
    or of the row it ends before (`previous`: `{"before": [...]}`; `{"before": null}`, the
    list's last rows), base64url-encoded.
    """

    ordering: Sequence[str] = ("-occurred_at", "-id")
    limit_query_param = "limit"
    cursor_query_param = "cursor"

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: object = None
    ) -> list[Model]:
        if "offset" in request.query_params:
            raise ValidationError(
                {"offset": ["Not supported on this list: follow the `next` link (a cursor)."]}
            )
        self.request = request
        try:
            self.page = keyset_page(
                queryset,
                ordering=self.ordering,
                cursor=request.query_params.get(self.cursor_query_param),
                limit=self._limit(request),
            )
        except InvalidCursor:
            raise ValidationError(
                {
                    self.cursor_query_param: [
                        "Invalid cursor: use the `next` or `previous` link of a page."
                    ]
                }
            ) from None
        return self.page.rows

    def get_paginated_response(self, data: list[dict[str, Any]]) -> Response:
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_next_link(self) -> str | None:
        if not self.page.has_next:
            return None
        if self.page.next_cursor is None:
            return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        return self._link(self.page.next_cursor)

    def get_previous_link(self) -> str | None:
        if self.page.previous_cursor is None:
            return None
        return self._link(self.page.previous_cursor)

    def _link(self, cursor: str) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page; null on the last page.",
                },
                "previous": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The page before; null on the first page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: object) -> list[dict[str, Any]]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (1–{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}).",
                "schema": {"type": "integer"},
            },
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: taken from a page's `next` or `previous`.",
                "schema": {"type": "string", "maxLength": CURSOR_MAX_LENGTH},
            },
        ]

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None or raw == "":
            return DEFAULT_PAGE_SIZE
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ValidationError({self.limit_query_param: ["Use a whole number from 1."]})
        return min(limit, MAX_PAGE_SIZE)


def _reversed(ordering: Sequence[str]) -> tuple[str, ...]:
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in ordering)


def encode_cursor(values: Sequence[Any] | None, *, before: bool = False) -> str:
    """The `cursor` for a page that starts after the row with these ordering values, or
    with `before`, the page that ends just before it (values None: the list's last page)."""
    if values is None and not before:
        raise ValueError("a cursor that starts after a row needs the row's values")
    jsonable: list[Any] | dict[str, list[Any] | None] | None = None
    if values is not None:
        jsonable = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    if before:
        jsonable = {"before": jsonable}
    return base64.urlsafe_b64encode(json.dumps(jsonable).encode()).decode().rstrip("=")
