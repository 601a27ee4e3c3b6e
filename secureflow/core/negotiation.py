"""DRF's content negotiation, remembered per Accept header.

DRF parses the Accept header and matches it against every renderer on each request: about
4 % of a real-time decision's web CPU, for an answer that depends only on the header, the
`?format=` override and the view's renderer classes. `CachedContentNegotiation` remembers
DRF's choice for those inputs. The memory is bounded: headers longer than
`MAX_REMEMBERED_HEADER` are negotiated every time, and the table is emptied when it holds
`MAX_REMEMBERED` choices (whatever clients send, it never grows past that). Refusals (406,
404 for an unknown format) are not remembered: DRF raises them again each time.
"""

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

MAX_REMEMBERED = 256
MAX_REMEMBERED_HEADER = 256

# (format, Accept header, renderer classes) -> (index of the renderer, media type)
_chosen: dict[tuple[Any, ...], tuple[int, str]] = {}


class CachedContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if len(accept) > MAX_REMEMBERED_HEADER:
            return super().select_renderer(request, renderers, format_suffix)
        format = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (format, accept, *(type(renderer) for renderer in renderers))
        chosen = _chosen.get(key)
        if chosen is not None:
            return renderers[chosen[0]], chosen[1]
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        index = next(i for i, candidate in enumerate(renderers) if candidate is renderer)
        if len(_chosen) >= MAX_REMEMBERED:
            _chosen.clear()
        _chosen[key] = (index, media_type)
        return renderer, media_type
