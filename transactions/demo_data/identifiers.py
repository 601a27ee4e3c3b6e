"""Deterministic, unique identifiers for the demo bank (IBAN-like account numbers and
merchant / terminal ids).

Every identifier carries the run's tag (derived from the generator's arguments), so two
different demo banks loaded into one database never share a key, while the same arguments
always give the same keys (loading again creates no duplicates).
"""

import hashlib

import numpy as np

from transactions.demo_data.reference import OWN_BANK_CODE


def run_tag(*, seed: int, customers: int, days: int, end: str) -> str:
    """Five hex digits identifying one set of generator arguments."""
    digest = hashlib.sha256(f"{seed}:{customers}:{days}:{end}".encode()).hexdigest()
    return digest[:5].upper()


def iban(country: str, bban: str) -> str:
    """An IBAN with valid ISO 13616 check digits for the given country and BBAN."""
    rearranged = bban + country + "00"
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


def ibans(countries: np.ndarray, bbans: np.ndarray) -> np.ndarray:
    return np.array([iban(c, b) for c, b in zip(countries, bbans)], dtype=object)


class IdentifierFactory:
    """Hands out identifiers that are unique within one run (a counter per family)."""

    # The digit after the tag separates the families of account numbers.
    FAMILY_DIGITS = {"own": "0", "beneficiary": "1", "one_off": "2", "fraud": "3"}

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.tag_number = int(tag, 16) % 100_000
        self._counters: dict[str, int] = {}

    def _take(self, family: str, count: int) -> np.ndarray:
        first = self._counters.get(family, 0)
        self._counters[family] = first + count
        return np.arange(first, first + count, dtype=np.int64)

    def account_numbers(
        self, family: str, countries: np.ndarray, bank_codes: np.ndarray | None = None
    ) -> np.ndarray:
        """IBAN-like numbers: own bank (family "own") or beneficiaries in `countries`."""
        count = len(countries)
        serial = self._take(family, count)
        digit = self.FAMILY_DIGITS[family]
        if bank_codes is None:
            bank_codes = np.full(count, OWN_BANK_CODE, dtype=object)
        bbans = [
            f"{code}{self.tag_number:05d}{digit}{s:010d}" for code, s in zip(bank_codes, serial)
        ]
        return ibans(np.asarray(countries, dtype=object), np.asarray(bbans, dtype=object))

    def merchant_ids(self, prefix: str, count: int) -> np.ndarray:
        serial = self._take(prefix, count)
        return np.array([f"{prefix}-{self.tag}-{s:06d}" for s in serial], dtype=object)
