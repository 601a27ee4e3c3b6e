import time
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import get_current_timezone, make_aware

from detection.model_training import DEFAULT_LABEL_DELAY_DAYS, models_train


def parse_moment(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"not a date or date-time: {value!r}")
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo else make_aware(moment, get_current_timezone())


class Command(BaseCommand):
    help = (
        "Train the isolation forest, the autoencoder and (with enough labels) the supervised "
        "model on stored transactions, record them as model versions and activate them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--until", help="train on transactions before this date (local)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--label-delay-days", type=float, default=DEFAULT_LABEL_DELAY_DAYS)
        parser.add_argument("--epochs", type=int, default=30, help="autoencoder max epochs")
        parser.add_argument("--no-activate", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        until = parse_moment(options["until"]) if options["until"] else None
        started = time.perf_counter()
        try:
            versions = models_train(
                until=until,
                seed=options["seed"],
                label_delay_days=options["label_delay_days"],
                activate=not options["no_activate"],
                ae_epochs=options["epochs"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for version in versions:
            metrics = version.metrics
            tail = {k: v for k, v in metrics.items() if k.startswith("tail_")}
            self.stdout.write(
                f"{version.kind:<17} v{version.version}  rows={metrics.get('n_rows')}  "
                f"{'active' if version.is_active else 'inactive'}  {tail}"
            )
        self.stdout.write(f"Trained in {time.perf_counter() - started:.1f} s")
