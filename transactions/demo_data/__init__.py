"""A deterministic demo bank with labelled fraud scenarios.

    from transactions.demo_data import generate_demo_bank
    bank = generate_demo_bank(customers=1000, days=120, seed=42, end=date(2026, 11, 1))
    bank.transactions  # canonical columns (transactions/csv_schema.py) + label + scenario

Modules: `reference` (names, countries), `identifiers` (IBAN-like keys), `profiles`
(customers, accounts, counterparties, spending habits), `activity` (everyday transactions),
`scenarios` (fraud), `generator` (the whole bank and its CSV).
"""

from transactions.demo_data.generator import DemoBank, generate_demo_bank, write_canonical_csv
from transactions.demo_data.scenarios import SCENARIOS, STRUCTURING_LIMITS

__all__ = [
    "SCENARIOS",
    "STRUCTURING_LIMITS",
    "DemoBank",
    "generate_demo_bank",
    "write_canonical_csv",
]
