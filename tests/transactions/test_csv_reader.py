import json

import pandas as pd
import pytest

from transactions.csv_reader import CsvFormatError, read_transactions_csv
from transactions.csv_schema import MappingError, load_mapping, mapping_from_dict

GOOD = (
    "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country,channel,label\n"
    "t1,2026-03-01T10:00:00+04:00,c1,a1,cp1,120.50,AED,L,AE,mobile,0\n"
    "t2,2026-03-01T10:05:00,c1,a1,cp2,99,AED,S,GB,web,1\n"
)


def test_reads_canonical_file_and_converts_times_to_utc():
    parsed = read_transactions_csv(GOOD.encode(), default_timezone="Asia/Dubai")
    assert parsed.received == 2 and parsed.accepted == 2 and parsed.errors == []
    frame = parsed.frame
    assert list(frame["id"]) == ["t1", "t2"]
    # +04:00 and a naive Dubai time both land on 06:00/06:05 UTC.
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-03-01T06:00:00Z")
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2026-03-01T06:05:00Z")
    assert frame["amount"].tolist() == [120.5, 99.0]
    assert frame["label"].tolist() == [0.0, 1.0]
    assert frame["line"].tolist() == [2, 3]


def test_bad_rows_are_reported_with_line_column_reason_and_good_rows_kept():
    text = (
        "id,timestamp,account,amount,transfer_type,country\n"
        "ok1,2026-03-01T10:00:00Z,a1,10,L,AE\n"
        "b1,not-a-date,a1,10,L,AE\n"
        "b2,2026-03-01T10:00:00Z,a1,-5,L,AE\n"
        "b3,2026-03-01T10:00:00Z,a1,abc,X,UAE\n"
        "ok1,2026-03-01T11:00:00Z,a1,10,L,AE\n"
        "b5,2026-03-01T10:00:00Z,a1\n"
        ",2026-03-01T10:00:00Z,a1,10,L,AE\n"
        "ok2,2026-03-02T10:00:00Z,a2,0,,\n"
    )
    parsed = read_transactions_csv(text.encode())
    assert parsed.frame["id"].tolist() == ["ok1", "ok2"]
    assert parsed.received == 8
    assert parsed.accepted + parsed.rejected == parsed.received
    assert parsed.rejected == 6
    found = {(e.line, e.column): e.reason for e in parsed.errors}
    assert "not a valid date-time" in found[(3, "timestamp")]
    assert found[(4, "amount")] == "must be zero or more"
    assert found[(5, "amount")] == "is not a number"
    assert "transfer type" in found[(5, "transfer_type")]
    assert "two-letter country" in found[(5, "country")]
    assert found[(6, "id")] == "duplicate id in this file (first on line 2)"
    assert found[(7, "*")] == "expected 6 fields, found 3"
    assert found[(8, "id")] == "is required"


def test_mapping_semicolon_decimal_comma_latin1_and_value_maps(tmp_path):
    text = (
        "REF;WHEN;FROM;TO;AMT;TYPE;FRAUD;NOTE\n"
        "X1;01/03/2026 09:30;ACC-1;Café Zürich;1.234,50;SWIFT;Y;é\n"
        "X2;02/03/2026 23:59;ACC-1;M2;7,25;OWN;N;\n"
    )
    mapping_path = tmp_path / "m.json"
    mapping_path.write_text(
        json.dumps(
            {
                "columns": {
                    "id": "REF",
                    "timestamp": "WHEN",
                    "account": "FROM",
                    "counterparty": "TO",
                    "amount": "AMT",
                    "transfer_type": "TYPE",
                    "label": "FRAUD",
                },
                "timestamp_format": "%d/%m/%Y %H:%M",
                "timezone": "Asia/Dubai",
                "values": {
                    "transfer_type": {"SWIFT": "S", "OWN": "O"},
                    "label": {"Y": "1", "N": "0"},
                },
            }
        )
    )
    parsed = read_transactions_csv(text.encode("latin-1"), load_mapping(mapping_path))
    assert parsed.errors == []
    frame = parsed.frame
    assert frame["amount"].tolist() == [1234.5, 7.25]
    assert frame["transfer_type"].tolist() == ["S", "O"]
    assert frame["counterparty"].iloc[0] == "Café Zürich"
    assert frame["label"].tolist() == [1.0, 0.0]
    assert frame["customer"].tolist() == ["ACC-1", "ACC-1"]  # defaults to the account
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-03-01T05:30:00Z")


def test_utf8_bom_is_accepted():
    parsed = read_transactions_csv(b"\xef\xbb\xbf" + GOOD.encode())
    assert parsed.accepted == 2


def test_missing_required_column_names_the_mapping():
    with pytest.raises(CsvFormatError, match="'amount' \\(mapped from 'AMT'\\)"):
        read_transactions_csv(
            b"id,timestamp,account,value\n1,2026-01-01T00:00:00Z,a,1\n",
            mapping_from_dict({"columns": {"amount": "AMT"}}),
        )


def test_invalid_mapping_is_refused():
    with pytest.raises(MappingError, match="unknown canonical columns"):
        mapping_from_dict({"columns": {"amout": "AMT"}})
    with pytest.raises(MappingError, match="decimal"):
        mapping_from_dict({"decimal": ";"})


REGULAR_FILES = {
    "canonical": GOOD,
    "no final line break": GOOD.rstrip("\n"),
    "bad values, empty fields and spaces": (
        "id,timestamp,account,amount,transfer_type,country,channel, label \n"
        " ok1 ,2026-03-01T10:00:00Z, a1 , 10 ,l,ae,WEB, yes\n"
        "b1,not-a-date,a1,10,L,AE,,\n"
        "b2,2026-03-01T10:00:00z,a1,-5,X,UAE,fax,maybe\n"
        "ok1,2026-03-01 11:00:00+0400,a1,1 234.50,,,,\n"
        ",2026-03-01T10:00:00-05:30,,,L,AE,web,0\n"
        "ü-é,2026-03-02T10:00:00,a2,0,O,FR,atm,n\n"
    ),
    "tabs and a decimal comma": (
        "id\ttimestamp\taccount\tamount\n"
        "t1\t2026-03-01T10:00:00Z\ta1\t1.234,50\n"
        "t2\t2026-03-01T10:00:00Z\ta1\t7,25\n"
    ),
}
IRREGULAR_FILES = {
    "quoted field": GOOD + 't3,2026-03-01T10:05:00,c1,a1,"cp,3",99,AED,S,GB,web,1\n',
    "blank line": GOOD + "\n" + GOOD.splitlines()[1] + "\n",
    "short record": GOOD + "t9,2026-03-01T10:00:00Z\n",
    "long record": GOOD + "t9,2026-03-01T10:00:00Z,c1,a1,cp1,1,AED,L,AE,web,0,extra\n",
    "carriage returns": GOOD.replace("\n", "\r\n"),
}


def _read_both(text: str, monkeypatch) -> tuple:
    import transactions.csv_reader as reader

    fast = read_transactions_csv(text.encode(), default_timezone="Asia/Dubai")
    monkeypatch.setattr(reader, "read_regular_columns", lambda text, delimiter: None)
    careful = read_transactions_csv(text.encode(), default_timezone="Asia/Dubai")
    return fast, careful


@pytest.mark.parametrize("name", sorted(REGULAR_FILES))
def test_regular_files_are_read_column_wise_exactly_as_record_by_record(name, monkeypatch):
    from transactions.csv_columns import read_regular_columns

    text = REGULAR_FILES[name]
    delimiter = "\t" if "\t" in text else ","
    assert read_regular_columns(text, delimiter) is not None
    fast, careful = _read_both(text, monkeypatch)
    pd.testing.assert_frame_equal(fast.frame, careful.frame)
    assert fast.errors == careful.errors and fast.received == careful.received
    assert fast.received == len(text.strip("\n").split("\n")) - 1


@pytest.mark.parametrize("name", sorted(IRREGULAR_FILES))
def test_irregular_files_are_read_record_by_record(name, monkeypatch):
    from transactions.csv_columns import read_regular_columns

    text = IRREGULAR_FILES[name]
    assert read_regular_columns(text, ",") is None
    fast, careful = _read_both(text, monkeypatch)
    pd.testing.assert_frame_equal(fast.frame, careful.frame)
    assert fast.errors == careful.errors and fast.received == careful.received
