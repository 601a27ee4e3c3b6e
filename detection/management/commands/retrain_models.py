import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.models import RetrainingStatus, RetrainingTrigger
from detection.retraining.promotion import PromotionRule
from detection.retraining.service import RetrainingOptions, retraining_run

from .train_models import parse_moment

METRIC_ROWS = (
    ("Average precision", "average_precision"),
    ("ROC AUC", "roc_auc"),
    ("FPR at operating threshold", "false_positive_rate"),
    ("Recall at 1% FPR", "recall_at_1%_fpr"),
    ("Outcome recall", "outcome_recall"),
    ("Outcome precision", "outcome_precision"),
)


def _fmt(value: object) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


class Command(BaseCommand):
    help = (
        "Champion-challenger retraining now: train challenger versions on the labelled data "
        "before the holdout, score challenger and active champion on the same labelled "
        "holdout, record the run and promote the challenger when the promotion rule says so."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--holdout-days", type=float, help="default SECUREFLOW_RETRAIN_HOLDOUT_DAYS"
        )
        parser.add_argument("--epochs", type=int, help="autoencoder max epochs")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--as-of", help="end of the holdout (default: newest transaction)")
        parser.add_argument("--min-gain", type=float, help="default SECUREFLOW_PROMOTION_MIN_GAIN")
        parser.add_argument("--json", help="write the run's metrics and decision to this file")

    def handle(self, *args: object, **options: object) -> None:
        rule = PromotionRule.from_settings()
        if options["min_gain"] is not None:
            rule = PromotionRule(
                min_gain=options["min_gain"],
                max_fpr_increase=rule.max_fpr_increase,
                min_average_precision=rule.min_average_precision,
            )
        run_options = RetrainingOptions.from_settings(
            holdout_days=options["holdout_days"], ae_epochs=options["epochs"], seed=options["seed"]
        )
        as_of = parse_moment(options["as_of"]) if options["as_of"] else None
        run = retraining_run(
            trigger=RetrainingTrigger.MANUAL, options=run_options, rule=rule, as_of=as_of
        )
        if run.status == RetrainingStatus.FAILED:
            raise CommandError(f"retraining run #{run.pk} failed: {run.error.splitlines()[0]}")
        holdout = run.holdout
        self.stdout.write(
            f"Retraining run #{run.pk}: challenger trained on transactions before "
            f"{run.train_until:%Y-%m-%d %H:%M}"
        )
        self.stdout.write(
            f"Holdout {holdout['start'][:16]} .. {holdout['end'][:16]}: {holdout['rows']:,} "
            f"labelled transactions, {holdout['fraud']} fraud"
        )
        champion, challenger = run.champion_metrics, run.challenger_metrics
        self.stdout.write(f"{'metric':<30}{'champion':>12}{'challenger':>12}")
        for label, key in METRIC_ROWS:
            self.stdout.write(
                f"{label:<30}{_fmt(champion.get(key)):>12}{_fmt(challenger.get(key)):>12}"
            )
        self.stdout.write(f"Decision: {run.get_decision_display()} - {run.reason}")
        self.stdout.write("Timings (s): " + ", ".join(f"{k} {v}" for k, v in run.timings.items()))
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps(
                    {
                        "run": run.pk,
                        "decision": run.decision,
                        "reason": run.reason,
                        "holdout": holdout,
                        "champion": champion,
                        "challenger": challenger,
                        "timings": run.timings,
                    },
                    indent=2,
                )
            )
