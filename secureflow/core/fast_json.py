"""JSON text for the hot paths, written by orjson and read back as `json` reads it.

`json.dumps` costs about a tenth of a real-time decision's web CPU (the score's JSON
columns and the account's feature summary). `dumps` writes the same values several times
faster with orjson and falls back to `json.dumps` wherever the two could differ in more
than spacing and number spelling:

- a value orjson refuses (a numpy scalar, an integer past 64 bits, a non-string key, a
  type of its own) or is told to pass on (datetimes, dataclasses and subclasses of str,
  int, dict and list, which orjson would write where `json` raises or writes otherwise):
  `json.dumps` then serializes it, or raises as it always did;
- a `null` in orjson's text: orjson writes NaN and infinities as null where `json` writes
  NaN / Infinity, so any null is written again by `json` (a real None costs only the time).

`json.loads(dumps(v)) == json.loads(json.dumps(v))` for every value `json` writes: a test
proves it. Only a UUID or a plain Enum, which `json` refuses, is written by orjson (as a
string, as its value).
`loads` reads with orjson and falls back to `json.loads` for what only `json` accepts (NaN,
Infinity, lone surrogates). Unlike `json`, it reads an integer past 64 bits as a float: use
it for text whose integers fit (the feature summaries: counts and epoch nanoseconds).
"""

import json
from typing import Any

import orjson

_NULL = b"null"
_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def dumps(value: Any) -> str:
    """Compact JSON text of `value`, as `json.dumps(value, separators=(",", ":"))` would
    read back."""
    try:
        text = orjson.dumps(value, option=_OPTIONS)
    except TypeError:
        return json.dumps(value, separators=(",", ":"))
    if _NULL in text:
        return json.dumps(value, separators=(",", ":"))
    return text.decode()


def loads(text: str | bytes) -> Any:
    """The value of JSON `text`, as `json.loads` reads it (integers within 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
