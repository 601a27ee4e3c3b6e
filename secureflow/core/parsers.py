"""Request body parsers of the API (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

`JSONParser` is DRF's, except that JSON nested deeper than Python's recursion limit
(e.g. `[[[[...]]]]` a thousand levels down, 2 KB of body) is a 400 `parse_error` instead of
a RecursionError and a 500. A body of ordinary depth costs nothing more than before: the
check is the try/except around the parse itself.
"""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NESTED_TOO_DEEPLY = "JSON parse error - the body is nested too deeply."


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(NESTED_TOO_DEEPLY) from None
