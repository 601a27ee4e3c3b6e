"""Column-wise reading of a regular delimited file with pandas' C parser.

A file is regular when it has no quote characters, no carriage returns and no NUL
characters, and every line after the header has exactly as many fields as the header:
then each line is one record, split at every delimiter, exactly as Python's csv module
reads it, and the columns come straight from the C parser (several times faster than
building a list per record). Any other file is left to the csv module (None).
"""

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

IRREGULAR = ('"', "\r", "\x00")


@dataclass(frozen=True)
class RegularColumns:
    header: list[str]  # as written (not stripped)
    columns: list[np.ndarray]  # one object array of str per header field
    first_line: int  # line number of the first record (the header is line 1)

    @property
    def rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def _fields_per_line(text: str, delimiter: str) -> np.ndarray:
    """Number of fields on each line (a final line break ends the last line)."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if len(data) and data[-1] != ord("\n"):
        ends = np.append(ends, len(data))
    delimiters = np.flatnonzero(data == ord(delimiter))
    upto = np.searchsorted(delimiters, ends)  # delimiters before each line's end
    return np.diff(upto, prepend=0) + 1


def read_regular_columns(text: str, delimiter: str) -> RegularColumns | None:
    """The columns of a regular file (module doc), or None when the file is not regular."""
    if len(delimiter) != 1 or ord(delimiter) > 127 or any(c in text for c in IRREGULAR):
        return None
    fields = _fields_per_line(text, delimiter)
    if len(fields) < 2:
        return None
    width = int(fields[0])
    if not (fields[1:] == width).all():
        return None  # a blank line or a record of another width: read it record by record
    header = text[: text.index("\n")].split(delimiter)
    frame = pd.read_csv(
        io.StringIO(text),
        sep=delimiter,
        header=None,
        skiprows=1,
        names=list(range(width)),
        dtype=object,
        na_filter=False,
        keep_default_na=False,
        skip_blank_lines=False,
        quoting=3,  # csv.QUOTE_NONE: there are no quotes anyway
        engine="c",
        low_memory=False,
    )
    if len(frame) != len(fields) - 1:
        return None
    columns = [frame[i].to_numpy(dtype=object) for i in range(width)]
    return RegularColumns(header=header, columns=columns, first_line=2)
