"""Signals other apps listen to, so that detection does not import them.

- `transaction_scored(sender=TransactionScore, score=...)` is sent inside the scoring
  transaction after a real-time decision is stored (API, form, replay). Receivers that
  talk to the outside world (alerts) must defer with `transaction.on_commit`.
- `scores_stored_in_bulk(sender=TransactionScore, score_ids=[...])` is sent after a batch
  chunk's scores are stored, with the ids of the flagged ones (outcome review or block).
"""

from django.dispatch import Signal

transaction_scored = Signal()
scores_stored_in_bulk = Signal()
