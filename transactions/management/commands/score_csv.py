"""Score a transactions file into an output CSV, without storing anything.

    python manage.py score_csv IN.csv OUT.csv [--mapping M.json | --mapping-name NAME]
        [--delimiter ';'] [--decimal ','] [--encoding latin-1]

Each row is scored against the stored history (accounts, counterparties, fraud labels)
plus the rows of the file before it, with the active models and rule limits, exactly as
importing the file with scoring would score it: same features, rules, models and
explanations. Nothing is written to the database (use `import_transactions --score` to
store the transactions and their decisions). Rows whose id is already stored are written
with their stored decision (stored = yes). Rejected rows go to OUT.errors.csv.

Output columns: line, id, timestamp, account, amount, currency, risk_score, outcome,
reasons (' | '), stored.
"""

import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.features.clock import bank_time_zone
from detection.models import TransactionScore
from detection.scoring.loader import get_engine
from transactions.batches.results import (
    REASON_SEPARATOR,
    write_csv,
    write_error_file,
)
from transactions.batches.scoring import (
    attach_entity_attributes,
    decide_rows,
    features_against_history,
)
from transactions.bulk_load import key_ids
from transactions.csv_reader import CsvFormatError, read_transactions_csv
from transactions.management.commands.import_transactions import (
    add_reading_options,
    mapping_from_options,
)
from transactions.models import Transaction

OUTPUT_COLUMNS = (
    "line",
    "id",
    "timestamp",
    "account",
    "amount",
    "currency",
    "risk_score",
    "outcome",
    "reasons",
    "stored",
)


class Command(BaseCommand):
    help = "Score a transactions CSV into an output CSV (risk, outcome, reasons); stores nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input")
        parser.add_argument("output")
        add_reading_options(parser)

    def handle(self, *args: object, **options: object) -> None:
        source, target = Path(str(options["input"])), Path(str(options["output"]))
        if not source.is_file():
            raise CommandError(f"no such file: {source}")
        mapping, _ = mapping_from_options(options)
        started = time.perf_counter()
        try:
            parsed = read_transactions_csv(source, mapping, default_timezone=bank_time_zone())
        except CsvFormatError as exc:
            raise CommandError(f"the file cannot be scored: {exc}") from exc
        frame = parsed.frame
        order = np.lexsort((frame["line"].to_numpy(), frame["timestamp"].to_numpy()))
        rows = frame.iloc[order].reset_index(drop=True)

        stored_ids = key_ids(Transaction, "external_id", rows["id"].tolist())
        is_stored = rows["id"].isin(stored_ids).to_numpy()
        new = attach_entity_attributes(rows.loc[~is_stored].reset_index(drop=True))
        records: dict[int, tuple] = {}
        if len(new):
            X = features_against_history(new)
            scored = decide_rows(
                get_engine(), X, new, shap_rows=int(settings.SECUREFLOW_BATCH_SHAP_ROWS)
            )
            for i, line in enumerate(new["line"].tolist()):
                records[line] = (
                    f"{scored.risk_score[i]:.6f}",
                    scored.outcome[i],
                    REASON_SEPARATOR.join(scored.reasons[i]),
                    "no",
                )
        old = rows.loc[is_stored]
        if len(old):
            decisions = {
                external_id: (risk, outcome, reasons)
                for external_id, risk, outcome, reasons in TransactionScore.objects.filter(
                    transaction_id__in=[stored_ids[i] for i in old["id"].tolist()]
                ).values_list("transaction__external_id", "risk_score", "outcome", "reasons")
            }
            for line, external_id in zip(old["line"].tolist(), old["id"].tolist()):
                risk, outcome, reasons = decisions.get(external_id, (None, "", []))
                records[line] = (
                    "" if risk is None else f"{risk:.6f}",
                    outcome,
                    REASON_SEPARATOR.join(reasons or []),
                    "yes",
                )

        by_line = frame.sort_values("line")
        count = write_csv(
            target,
            OUTPUT_COLUMNS,
            (
                (
                    line,
                    external_id,
                    stamp.isoformat(),
                    account,
                    f"{amount:.2f}",
                    currency,
                    *records[line],
                )
                for line, external_id, stamp, account, amount, currency in zip(
                    by_line["line"].tolist(),
                    by_line["id"].tolist(),
                    by_line["timestamp"].tolist(),
                    by_line["account"].tolist(),
                    by_line["amount"].tolist(),
                    by_line["currency"].tolist(),
                )
            ),
        )
        errors_path = target.with_name(target.stem + ".errors.csv")
        if parsed.errors:
            write_error_file(errors_path, parsed.errors)
        seconds = time.perf_counter() - started
        outcomes = [r[1] for r in records.values()]
        out = self.stdout.write
        out(f"Scored {source} into {target} in {seconds:.1f} s (nothing stored)")
        out(f"  received   {parsed.received:>10,}")
        out(f"  scored     {len(new):>10,}")
        out(f"  stored     {int(is_stored.sum()):>10,}  (already stored: their stored decision)")
        out(f"  rejected   {parsed.rejected:>10,}")
        for outcome in ("approve", "review", "block"):
            out(f"    {outcome:<9}{outcomes.count(outcome):>10,}")
        if parsed.errors:
            out(f"  errors: {errors_path}")
            for error in parsed.errors[:10]:
                out(f"    row {error.line}, column {error.column}: {error.reason}")
        if count != parsed.accepted:
            raise CommandError(f"wrote {count} rows for {parsed.accepted} accepted rows")
