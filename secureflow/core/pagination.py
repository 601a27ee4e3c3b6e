"""Pagination of API lists: limit/offset with a ceiling on the page size."""

from rest_framework.pagination import LimitOffsetPagination


class ApiPagination(LimitOffsetPagination):
    """`?limit=N&offset=M`; 50 rows by default, at most 1000 a page (a larger limit is
    cut to 1000, an offset past the end gives an empty page)."""

    default_limit = 50
    max_limit = 1000
