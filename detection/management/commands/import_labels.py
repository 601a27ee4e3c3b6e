from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.choices import LabelSource
from detection.labels_import import IMPORT_SOURCES, LabelFileError, labels_import


class Command(BaseCommand):
    help = (
        "Import fraud labels (chargebacks, customer confirmations) from a CSV file with the "
        "columns transaction_id, label, reported_at and optionally source and note. Bad rows "
        "are reported (line, column, reason); good rows are stored; re-importing adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument(
            "--source",
            default=LabelSource.CHARGEBACK,
            choices=[str(s) for s in IMPORT_SOURCES],
            help="source of rows without a source column value (default chargeback)",
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            result = labels_import(path=options["path"], default_source=options["source"])
        except (LabelFileError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for error in result.errors:
            self.stderr.write(str(error))
        rejected = len({e.line for e in result.errors})
        self.stdout.write(
            f"{result.rows} rows: {result.created} labels stored, "
            f"{result.already_present} already present, {rejected} rejected"
        )
