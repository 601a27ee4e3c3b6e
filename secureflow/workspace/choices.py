from django.db import models


class CheckActionKind(models.TextChoices):
    """What an investigator did with a decision on the check page."""

    CONFIRM = "confirm", "Confirmed (approved)"
    FORCE_APPROVE = "force_approve", "Approved anyway"
    REJECT = "reject", "Rejected"
