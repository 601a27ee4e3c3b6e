"""Champion-challenger retraining: train challenger versions, compare them with the active
champion on the same labelled holdout, promote by rule, audit every promotion and roll back.

- `holdout`: the retraining data (features once for all rows) and scoring a version set on
  the holdout with the live scoring engine.
- `promotion`: the promotion rule, promote, roll back, shadow switch (all audited).
- `service`: a whole retraining run, recorded as a RetrainingRun.
"""
