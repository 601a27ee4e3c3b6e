"""Transactions under construction: parallel numpy arrays, one entry per transaction."""

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class RowBlock:
    customer: np.ndarray  # customer index
    account: np.ndarray  # account index
    seconds: np.ndarray  # seconds since the window start (bank local midnight)
    transfer_type: np.ndarray  # index into profiles.TRANSFER_TYPES
    counterparty: np.ndarray  # counterparty row index
    amount: np.ndarray  # AED, rounded to cents
    channel: np.ndarray  # index into profiles.CHANNELS
    scenario: np.ndarray  # 0 = legitimate, else 1 + index into scenarios.SCENARIOS

    def __len__(self) -> int:
        return len(self.customer)

    def take(self, selector: np.ndarray) -> "RowBlock":
        return RowBlock(**{f.name: getattr(self, f.name)[selector] for f in fields(self)})

    @classmethod
    def concat(cls, blocks: list["RowBlock"]) -> "RowBlock":
        return cls(
            **{f.name: np.concatenate([getattr(b, f.name) for b in blocks]) for f in fields(cls)}
        )

    @classmethod
    def from_lists(cls, rows: dict[str, list]) -> "RowBlock":
        dtypes = {
            "customer": np.int64,
            "account": np.int64,
            "seconds": np.int64,
            "transfer_type": np.int8,
            "counterparty": np.int64,
            "amount": np.float64,
            "channel": np.int8,
            "scenario": np.int8,
        }
        return cls(**{name: np.asarray(rows[name], dtype=dt) for name, dt in dtypes.items()})

    @classmethod
    def empty(cls) -> "RowBlock":
        return cls.from_lists({f.name: [] for f in fields(cls)})
