"""The backtest command: one score row per test transaction, metrics, and isolation."""

import csv
import json
from datetime import date

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from detection.backtest import make_windows, parse_bound
from transactions.demo_data import generate_demo_bank, write_canonical_csv

END = date(2026, 3, 1)
WINDOWS = {
    "--train-start": "2026-01-01",
    "--train-end": "2026-02-08",
    "--test-start": "2026-02-08",
    "--test-end": "2026-03-01",
}

pytestmark = pytest.mark.slow


def _args(csv_path, out, metrics=None, **overrides):
    args = ["--csv", str(csv_path), "--out", str(out), "--epochs", "2", "--seed", "3"]
    for flag, value in {**WINDOWS, **overrides}.items():
        args += [flag, value]
    if metrics is not None:
        args += ["--json", str(metrics)]
    return args


@pytest.fixture(scope="module")
def bank():
    return generate_demo_bank(customers=200, days=60, seed=21, end=END)


@pytest.fixture(scope="module")
def bank_csv(bank, tmp_path_factory):
    path = tmp_path_factory.mktemp("backtest") / "bank.csv"
    write_canonical_csv(bank.transactions, path)
    return path


@pytest.fixture(scope="module")
def run(bank_csv, tmp_path_factory):
    """Runs without the django_db mark: any database access would raise."""
    out_dir = tmp_path_factory.mktemp("backtest-out")
    scores, metrics = out_dir / "scores.csv", out_dir / "metrics.json"
    call_command("backtest", *_args(bank_csv, scores, metrics))
    return pd.read_csv(scores, keep_default_na=False), json.loads(metrics.read_text())


def test_one_score_row_per_test_transaction(bank, run):
    scores, _ = run
    ts = bank.transactions["timestamp"]
    start = pd.Timestamp(parse_bound(WINDOWS["--test-start"]), tz="UTC")
    end = pd.Timestamp(parse_bound(WINDOWS["--test-end"]), tz="UTC")
    expected = bank.transactions.loc[(ts >= start) & (ts < end), "id"]
    assert len(scores) == len(expected)
    assert set(scores["id"]) == set(expected)
    assert scores["id"].is_unique
    assert {
        "id",
        "timestamp",
        "risk_score",
        "outcome",
        "isolation_forest_score",
        "autoencoder_score",
        "supervised_score",
        "label",
        "scenario",
        "top_reasons",
    } <= set(scores.columns)
    assert scores["risk_score"].between(0, 1).all()
    assert set(scores["outcome"]) <= {"approve", "review", "block"}
    # times are in order and flagged rows carry reasons
    assert pd.to_datetime(scores["timestamp"]).is_monotonic_increasing
    flagged = scores[scores["outcome"] != "approve"]
    assert len(flagged) > 0
    assert (flagged["top_reasons"].str.len() > 0).all()


def test_metrics_keys_and_detection_quality(run):
    _, metrics = run
    risk = metrics["risk_score"]
    for key in (
        "roc_auc",
        "average_precision",
        "recall_at_1%_fpr",
        "recall_at_2%_fpr",
        "recall_at_5%_fpr",
        "precision_top100_per_day",
        "per_scenario",
        "flag_rate",
        "outcome_recall",
        "outcome_precision",
    ):
        assert key in risk, key
    assert risk["roc_auc"] > 0.8
    assert set(metrics["per_model"]) == {"isolation_forest", "autoencoder", "supervised"}
    for kind_metrics in metrics["per_model"].values():
        assert 0 <= kind_metrics["average_precision"] <= 1
    assert metrics["counts"]["test_fraud"] > 0
    assert metrics["counts"]["train_fraud_labels_known"] > 0
    for key in ("features_seconds", "training_seconds", "scoring_seconds", "total_seconds"):
        assert metrics["timings"][key] > 0
    assert metrics["rows"]["rejected"] == 0


def test_training_sees_only_labels_known_by_train_end(bank, run):
    _, metrics = run
    tx = bank.transactions
    train_end = pd.Timestamp(parse_bound(WINDOWS["--train-end"]), tz="UTC")
    start = pd.Timestamp(parse_bound(WINDOWS["--train-start"]), tz="UTC")
    matured = (tx["timestamp"] >= start) & (tx["timestamp"] + pd.Timedelta(days=7) <= train_end)
    assert metrics["counts"]["train_fraud_labels_known"] == int(tx.loc[matured, "label"].sum())
    in_window = (tx["timestamp"] >= start) & (tx["timestamp"] < train_end)
    assert metrics["counts"]["train_fraud_in_window"] == int(tx.loc[in_window, "label"].sum())
    assert (
        metrics["counts"]["train_fraud_in_window"] > metrics["counts"]["train_fraud_labels_known"]
    )


@pytest.mark.django_db
def test_live_tables_and_model_dir_untouched(bank_csv, tmp_path, django_assert_num_queries):
    from detection.models import ModelVersion
    from transactions.models import Transaction

    model_dir = settings.SECUREFLOW_MODEL_DIR
    before_files = sorted(model_dir.rglob("*")) if model_dir.exists() else []
    with django_assert_num_queries(0):
        call_command("backtest", *_args(bank_csv, tmp_path / "s.csv"))
    assert Transaction.objects.count() == 0
    assert ModelVersion.objects.count() == 0
    after_files = sorted(model_dir.rglob("*")) if model_dir.exists() else []
    assert after_files == before_files
    assert len(pd.read_csv(tmp_path / "s.csv")) > 0


def test_refuses_a_file_without_labels(bank, tmp_path):
    path = tmp_path / "nolabel.csv"
    write_canonical_csv(bank.transactions.drop(columns=["label"]).head(500), path)
    with pytest.raises(CommandError, match="no label column"):
        call_command("backtest", *_args(path, tmp_path / "s.csv"))


def test_reports_rejected_rows_and_writes_formulas_as_text(bank, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    write_canonical_csv(bank.transactions, path)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[1], "not-a-time", 1)
    # the last transaction (in the test window) with an id a spreadsheet would run
    last_id = lines[-1].split(",")[0]
    lines[-1] = lines[-1].replace(last_id, "=1+2", 1)
    path.write_text("\n".join(lines) + "\n")
    call_command("backtest", *_args(path, tmp_path / "s.csv", tmp_path / "m.json"))
    err = capsys.readouterr().err
    assert "1 rejected" in err
    assert "line 6" in err
    assert json.loads((tmp_path / "m.json").read_text())["rows"]["rejected"] == 1
    with open(tmp_path / "s.csv", newline="", encoding="utf-8") as handle:
        ids = [row["id"] for row in csv.DictReader(handle)]
    assert "'=1+2" in ids and "=1+2" not in ids
    assert last_id not in ids


def test_windows_are_checked():
    with pytest.raises(ValueError, match="test-start"):
        make_windows(
            train_start="2026-01-01",
            train_end="2026-02-01",
            test_start="2026-01-15",
            test_end="2026-03-01",
        )
