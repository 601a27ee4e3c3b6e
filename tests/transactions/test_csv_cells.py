"""Cells a spreadsheet would run as a formula are written as text; others as they are."""

import pandas as pd
import pytest

from transactions.csv_cells import spreadsheet_safe, spreadsheet_safe_frame, spreadsheet_safe_row


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://127.0.0.1/x","open")',
        "=1+2",
        "+cmd|' /C calc'!A0",
        "-1+1",
        "-",
        "@SUM(A1:A9)",
        "\t=1+2",
        "\r=1+2",
        "+971 50 123 4567",
    ],
)
def test_formula_text_gets_a_leading_apostrophe(value):
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    ["TXN-1", "AE070331234567890123456", "", " =1+2", "-12.50", "+971", "-1e3", "1,5", "-,5"],
)
def test_other_text_and_plain_numbers_stay(value):
    assert spreadsheet_safe(value) == value


@pytest.mark.parametrize("value", [None, 5, -5, 1.5, -0.25])
def test_values_that_are_not_text_stay(value):
    assert spreadsheet_safe(value) == value


def test_row_and_frame():
    assert spreadsheet_safe_row((3, "amount", "is not a number", "=1+2")) == [
        3,
        "amount",
        "is not a number",
        "'=1+2",
    ]
    frame = pd.DataFrame(
        {
            "id": ["=1+2", "A1", "-5"],
            "risk_score": [0.5, -0.25, 1.0],
            "scenario": pd.array(["@x", "", None], dtype=object),
        }
    )
    safe = spreadsheet_safe_frame(frame)
    assert safe["id"].tolist() == ["'=1+2", "A1", "-5"]
    assert safe["risk_score"].tolist() == [0.5, -0.25, 1.0]
    assert safe["scenario"].tolist()[:2] == ["'@x", ""] and pd.isna(safe["scenario"].iloc[2])
    assert frame["id"].tolist() == ["=1+2", "A1", "-5"]  # the input is not changed
