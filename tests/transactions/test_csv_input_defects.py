"""Input-handling defects of the CSV/JSON batch reader: each bad value is rejected with its
row, column and reason, the good rows of the same input go through, nothing is lost or
doubled (received = accepted + rejected), and no value is silently changed."""

import csv

import pandas as pd
import pytest

from transactions.batches.reading import BatchInputError, mapping_with_options
from transactions.batches.services import import_batch_create, import_batch_run
from transactions.bulk_load import bulk_load_frame
from transactions.choices import BatchFormat, BatchMode, BatchSource, BatchStatus
from transactions.csv_reader import (
    CsvFormatError,
    read_transactions_csv,
    read_transactions_records,
)
from transactions.csv_schema import MappingError, mapping_from_dict
from transactions.models import Transaction

H = "id,timestamp,account,amount\n"
TZ = "Asia/Dubai"


def read(text: str | bytes, mapping: dict | None = None):
    raw = text.encode() if isinstance(text, str) else text
    parsed = read_transactions_csv(
        raw, mapping_from_dict(mapping) if mapping else None, default_timezone=TZ
    )
    assert parsed.accepted + parsed.rejected == parsed.received
    return parsed


def reasons(parsed) -> dict[tuple[int, str], str]:
    return {(e.line, e.column): e.reason for e in parsed.errors}


def amounts(parsed) -> dict[str, float]:
    return dict(zip(parsed.frame["id"], parsed.frame["amount"]))


# 1 -- hour-only offsets ----------------------------------------------------------------


def test_hour_only_and_compact_offsets_among_naive_rows():
    parsed = read(
        H + "A,2026-01-10T09:00:00+04,a,1\n"
        "B,2026-01-10T09:00:00,a,1\n"
        "C,2026-01-10T09:00:00+0400,a,1\n"
        "D,2026-01-10T09:00:00-05,a,1\n"
        "E,2026-01-10,a,1\n"
    )
    assert parsed.errors == []
    stamps = dict(zip(parsed.frame["id"], parsed.frame["timestamp"]))
    for ident in "ABC":
        assert stamps[ident] == pd.Timestamp("2026-01-10T05:00:00Z")
    assert stamps["D"] == pd.Timestamp("2026-01-10T14:00:00Z")
    assert stamps["E"] == pd.Timestamp("2026-01-09T20:00:00Z")  # a date, not an offset


def test_hour_only_offset_alone():
    parsed = read(H + "A,2026-01-10T09:00:00+04,a,1\n")
    assert parsed.frame["timestamp"].tolist() == [pd.Timestamp("2026-01-10T05:00:00Z")]


def test_timestamp_format_with_differing_offsets():
    parsed = read(
        H + "A,10/01/2026 09:00 +0400,a,1\nB,10/01/2026 09:00 -0100,a,1\n",
        {"timestamp_format": "%d/%m/%Y %H:%M %z"},
    )
    assert parsed.errors == []
    assert parsed.frame["timestamp"].tolist() == [
        pd.Timestamp("2026-01-10T05:00:00Z"),
        pd.Timestamp("2026-01-10T10:00:00Z"),
    ]


# 2 -- out-of-range dates -----------------------------------------------------------------


def test_out_of_range_dates_are_rejected_and_the_rest_read():
    parsed = read(
        H + "A,9999-12-31T00:00:00,a,1\n"
        "B,0001-01-01,a,1\n"
        "C,2026-01-01T00:00:00Z,a,1\n"
        "D,1970-01-01T23:59:59Z,a,1\n"
        "E,2199-12-31T23:59:59Z,a,1\n"
        "F,2200-01-01T00:00:00Z,a,1\n"
        "G,9999-12-31T00:00:00+04:00,a,1\n"
    )
    assert parsed.frame["id"].tolist() == ["C", "E"]
    found = reasons(parsed)
    for line in (2, 3, 5, 7, 8):
        assert "out of range" in found[(line, "timestamp")]
        assert "1970-01-02 and 2199-12-31" in found[(line, "timestamp")]


def test_out_of_range_date_with_a_format():
    parsed = read(H + "A,31/12/9999,a,1\nB,01/01/2026,a,1\n", {"timestamp_format": "%d/%m/%Y"})
    assert parsed.frame["id"].tolist() == ["B"]
    assert "out of range" in reasons(parsed)[(2, "timestamp")]


# 3 -- scenario length ------------------------------------------------------------------


@pytest.mark.django_db
def test_long_scenario_is_rejected_by_the_reader_not_the_loader():
    parsed = read(
        "id,timestamp,account,amount,scenario\n"
        f"A,2026-01-10,a,1,{'x' * 41}\nB,2026-01-10,a,1,{'y' * 40}\n"
    )
    assert reasons(parsed) == {(2, "scenario"): "is longer than 40 characters"}
    assert bulk_load_frame(parsed.frame).inserted == 1


# 4 -- a field over the csv module's limit ------------------------------------------------


def test_huge_quoted_field_rejects_its_row_only():
    parsed = read(
        "id,timestamp,account,amount,note\n"
        f'A,2026-01-10,a,1,"{"n" * 200_000}"\n'
        f'B,2026-01-10,"{"x" * 200_000}",1,\n'
        "C,2026-01-10,a,1,\n"
    )
    assert parsed.frame["id"].tolist() == ["A", "C"]  # a long note is no reason to reject
    assert reasons(parsed) == {(3, "account"): "is longer than 64 characters"}
    assert csv.field_size_limit() == 131072


# 5 -- mapping options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        ({"timezone": "Mars/X"}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timestamp_format": 5}, "timestamp_format"),
        ({"timestamp_format": "%Q"}, "timestamp_format"),
        ({"delimiter": "\r"}, "delimiter"),
        ({"delimiter": '"'}, "delimiter"),
        ({"encoding": 5}, "encoding"),
        ({"encoding": "no-such-codec"}, "encoding"),
        ({"encoding": "base64"}, "encoding"),
        ({"values": {"amout": {"a": "b"}}}, "values"),
        ({"defaults": {"currency": None}}, "defaults"),
    ],
)
def test_invalid_mapping_options_are_refused_when_read(mapping, named):
    with pytest.raises(MappingError, match=f'"{named}"'):
        mapping_from_dict(mapping)
    with pytest.raises(BatchInputError) as caught:
        mapping_with_options(mapping)
    assert caught.value.field == "mapping"


def test_valid_mapping_options_are_kept():
    mapping = mapping_from_dict(
        {
            "timezone": "Europe/Berlin",
            "timestamp_format": "%d/%m/%Y %H:%M",
            "delimiter": ";",
            "encoding": "cp1252",
            "defaults": {"currency": "EUR", "label": 0},
        }
    )
    assert (mapping.timezone, mapping.encoding, mapping.defaults["label"]) == (
        "Europe/Berlin",
        "cp1252",
        "0",
    )


# 6 -- thousands and decimal separators -----------------------------------------------------


def test_decimal_comma_detected_when_some_amounts_are_integers():
    parsed = read(
        "id;timestamp;account;amount\nA;2026-01-10;a;100\nB;2026-01-10;a;200\nC;2026-01-10;a;12,50\n"
    )
    assert amounts(parsed) == {"A": 100.0, "B": 200.0, "C": 12.5}


def test_comma_in_a_comma_delimited_file_is_only_a_thousands_separator():
    parsed = read(
        H + 'A,2026-01-10,a,"12,50"\n'
        'B,2026-01-10,a,"1.234,50"\n'
        'C,2026-01-10,a,"1,2,3"\n'
        'D,2026-01-10,a,"1,234,567.89"\n'
        'E,2026-01-10,a,"1,234"\n'
    )
    assert amounts(parsed) == {"D": 1234567.89, "E": 1234.0}
    found = reasons(parsed)
    assert found[(2, "amount")].startswith("uses ',' but this file's decimal separator is '.'")
    assert {line for line, _ in found} == {2, 3, 4}


def test_point_with_a_decimal_comma_is_only_a_thousands_separator():
    parsed = read(
        "id;timestamp;account;amount\n"
        "A;2026-01-10;a;1,50\nB;2026-01-10;a;2,50\nC;2026-01-10;a;7.5\n"
        "D;2026-01-10;a;12.5\nE;2026-01-10;a;1.234.567,89\n",
        {"decimal": ","},
    )
    assert amounts(parsed) == {"A": 1.5, "B": 2.5, "E": 1234567.89}
    found = reasons(parsed)
    assert found[(4, "amount")].startswith("uses '.' but this file's decimal separator is ','")
    assert (5, "amount") in found


def test_detected_decimal_comma_rejects_the_odd_point():
    parsed = read(
        "id;timestamp;account;amount\nA;2026-01-10;a;1,50\nB;2026-01-10;a;2,50\nC;2026-01-10;a;7.5\n"
    )
    assert amounts(parsed) == {"A": 1.5, "B": 2.5}
    assert (4, "amount") in reasons(parsed)


def test_json_amount_with_a_comma_is_not_multiplied():
    parsed = read_transactions_records(
        [
            {"id": "J1", "timestamp": "2026-01-10", "account": "a", "amount": "12,50"},
            {"id": "J2", "timestamp": "2026-01-10", "account": "a", "amount": 7.5},
        ]
    )
    assert amounts(parsed) == {"J2": 7.5}
    assert "decimal separator" in reasons(parsed)[(1, "amount")]


# 7 -- decimal places ---------------------------------------------------------------------


def test_more_than_two_decimals_are_rejected_not_rounded():
    parsed = read(
        H + "A,2026-01-10,a,10.005\nB,2026-01-10,a,1e-5\nC,2026-01-10,a,1e3\n"
        "D,2026-01-10,a,10.10\nE,2026-01-10,a,0.001\n"
    )
    assert amounts(parsed) == {"C": 1000.0, "D": 10.1}
    found = reasons(parsed)
    for line in (2, 3, 6):
        assert found[(line, "amount")].startswith("has more than 2 decimal places")


# 8 -- unclosed quote ---------------------------------------------------------------------


def test_unclosed_quote_rejects_its_line_and_the_next_lines_are_read():
    good = "".join(f"Q{i},2026-01-10,a,{i}\n" for i in range(2, 6))
    parsed = read(H + 'Q1,2026-01-10,a,"QA1,1\n' + good)
    assert parsed.received == 5 and parsed.rejected == 1
    assert parsed.frame["id"].tolist() == ["Q2", "Q3", "Q4", "Q5"]
    assert parsed.frame["line"].tolist() == [3, 4, 5, 6]
    assert "never closed" in reasons(parsed)[(2, "*")]


def test_quote_closed_on_a_later_line_does_not_swallow_it():
    parsed = read(H + 'Q1,2026-01-10,a,"QA1\nQ2,2026-01-10,a,"5"\nQ3,2026-01-10,a,1\n')
    assert parsed.received == 3
    assert parsed.frame["id"].tolist() == ["Q2", "Q3"]
    assert (2, "*") in reasons(parsed)


def test_line_breaks_in_a_quoted_note_are_still_read():
    parsed = read(
        'id,timestamp,account,amount,note\nA,2026-01-10,a,1,"two\nlines"\nB,2026-01-10,a,2,\n'
    )
    assert parsed.errors == [] and parsed.frame["line"].tolist() == [2, 4]


# 9 -- duplicate header ---------------------------------------------------------------------


def test_duplicated_column_is_refused_by_name():
    with pytest.raises(CsvFormatError, match="'amount' is columns 4 and 5"):
        read("id,timestamp,account,amount,amount\nA,2026-01-10,a,1,2\n")


def test_duplicated_unread_columns_are_harmless():
    parsed = read("id,timestamp,account,amount,,\nA,2026-01-10,a,1,,\n")
    assert parsed.accepted == 1


# 10 -- encodings -----------------------------------------------------------------------


def test_utf8_file_with_a_stray_byte_stays_utf8_and_rejects_that_row():
    raw = (H + "A,2026-01-10,Zürich,1\nB,2026-01-10,aXb,1\n").encode().replace(b"X", b"\xe9")
    for data in (raw, b"\xef\xbb\xbf" + raw):
        parsed = read(data)
        assert parsed.frame["account"].tolist() == ["Zürich"]
        assert reasons(parsed) == {(3, "account"): "contains bytes that are not valid UTF-8 text"}
        assert parsed.errors[0].value == "a\\xe9b"


def test_utf8_bom_file_with_a_stray_byte_keeps_its_header():
    raw = b"\xef\xbb\xbf" + (H + "A,2026-01-10,aXb,1\nB,2026-01-10,b,1\n").encode().replace(
        b"X", b"\xff"
    )
    parsed = read(raw)
    assert parsed.frame["id"].tolist() == ["B"]


def test_windows_1252_file_is_read_as_such():
    parsed = read((H + "A,2026-01-10,Café ’€,1\n").encode("cp1252"))
    assert parsed.frame["account"].tolist() == ["Café ’€"]


def test_wrong_explicit_encoding_names_the_line():
    with pytest.raises(CsvFormatError, match="line 3"):
        read(
            (H + "A,2026-01-10,a,1\nB,2026-01-10,Café,1\n").encode("latin-1"), {"encoding": "utf-8"}
        )


# 11 -- duplicate id whose first copy is invalid --------------------------------------------


def test_valid_copy_of_an_id_is_imported_when_the_first_is_invalid():
    parsed = read(H + "T1,2026-01-10,a,abc\nT1,2026-01-10,a,5\nT1,2026-01-10,a,6\n")
    assert amounts(parsed) == {"T1": 5.0}
    assert reasons(parsed) == {
        (2, "amount"): "is not a number",
        (4, "id"): "duplicate id in this file (first on line 3)",
    }


# 12 -- daylight saving gaps and repeated hours -----------------------------------------------


def test_dst_gap_and_repeated_hour_are_read_deterministically():
    parsed = read(
        H + "A,2026-03-29T02:30:00,a,1\nB,2026-10-25T02:30:00,a,1\n",
        {"timezone": "Europe/Berlin"},
    )
    assert parsed.errors == []
    assert parsed.frame["timestamp"].tolist() == [
        pd.Timestamp("2026-03-29T01:00:00Z"),  # 03:00+02:00, the first time after the gap
        pd.Timestamp("2026-10-25T00:30:00Z"),  # 02:30+02:00, the earlier instant
    ]


def test_bulk_load_localizes_naive_times_as_the_reader(settings):
    from transactions.bulk_load import _timestamps

    settings.TIME_ZONE = "Europe/Berlin"
    got = _timestamps(pd.Series(["2026-03-29T02:30:00", "2026-10-25T02:30:00", "x"]))
    assert got.tolist()[:2] == [
        pd.Timestamp("2026-03-29T01:00:00Z"),
        pd.Timestamp("2026-10-25T00:30:00Z"),
    ]


# NUL characters ----------------------------------------------------------------------


def test_nul_in_a_cell_rejects_its_row():
    parsed = read(H + "A,2026-01-10,a\x00b,1\nB,2026-01-10,b,1\n")
    assert parsed.frame["id"].tolist() == ["B"]
    assert reasons(parsed) == {(2, "account"): "contains a NUL character (\\x00)"}
    assert parsed.errors[0].value == "a\\x00b"


# end to end: totals add up -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("batch_settings")
def test_batch_of_all_defects_imports_the_good_rows_and_counts_every_row():
    text = (
        "id,timestamp,account,amount,scenario\n"
        "G1,2026-01-10T09:00:00+04,a,1,\n"
        'G2,2026-01-10T09:00:00,a,"1,234.50",\n'
        "B1,9999-12-31T00:00:00,a,1,\n"
        f"B2,2026-01-10,a,1,{'s' * 41}\n"
        'B3,2026-01-10,a,"12,50",\n'
        "B4,2026-01-10,a,10.005,\n"
        "G3,2026-01-10,a,abc,\n"
        "G3,2026-01-10,a,3,\n"
        'B5,2026-01-10,a,"oops,\n'
        "G4,2026-01-10,a,4,\n"
    )
    batch = import_batch_create(
        owner=None,
        content=text.encode(),
        enqueue=False,
        source=BatchSource.CLI,
        mode=BatchMode.IMPORT,
        input_format=BatchFormat.CSV,
    )
    batch = import_batch_run(batch_id=batch.pk)
    assert batch.status == BatchStatus.DONE
    assert (batch.rows_total, batch.rows_imported, batch.rows_rejected) == (10, 4, 6)
    assert batch.rows_total == batch.rows_imported + batch.rows_duplicate + batch.rows_rejected
    stored = dict(Transaction.objects.values_list("external_id", "amount"))
    assert {k: float(v) for k, v in stored.items()} == {
        "G1": 1.0,
        "G2": 1234.5,
        "G3": 3.0,
        "G4": 4.0,
    }
    with open(batch.errors_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["row"], r["column"]) for r in rows} == {
        ("4", "timestamp"),
        ("5", "scenario"),
        ("6", "amount"),
        ("7", "amount"),
        ("8", "amount"),
        ("10", "*"),
    }
