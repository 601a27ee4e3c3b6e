from django.db import models


class LabelSource(models.TextChoices):
    CASE_DECISION = "case_decision", "Investigator decision"
    CHARGEBACK = "chargeback", "Chargeback"
    CUSTOMER_CONFIRMATION = "customer_confirmation", "Customer confirmation"
    API = "api", "API feedback"
    IMPORT = "import", "Imported with the data"


# What the bank reports from outside the case workflow (label files uploaded on the page)
REPORTED_LABEL_SOURCES = (
    LabelSource.CHARGEBACK,
    LabelSource.CUSTOMER_CONFIRMATION,
    LabelSource.API,
)


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    ESCALATED = "escalated", "Escalated"
    CLOSED = "closed", "Closed"


# Statuses of a case somebody still has to work.
ACTIVE_STATUSES = (CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.ESCALATED)


class CaseResolution(models.TextChoices):
    LEGITIMATE = "legitimate", "Legitimate"
    FRAUD = "fraud", "Confirmed fraud"


class CaseEventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    ASSIGNED = "assigned", "Assigned"
    CLAIMED = "claimed", "Claimed"
    NOTE = "note", "Note"
    APPROVED = "approved", "Approved (legitimate)"
    REJECTED = "rejected", "Rejected (confirmed fraud)"
    ESCALATED = "escalated", "Escalated"
    REOPENED = "reopened", "Reopened"
    BULK_ASSIGNED = "bulk_assigned", "Assigned in bulk"
    BULK_CLOSED = "bulk_closed", "Closed in bulk"


class CaseAction(models.TextChoices):
    """What an investigator can do from the case page."""

    APPROVE = "approve", "Approve (legitimate)"
    REJECT = "reject", "Reject (confirmed fraud)"
    ESCALATE = "escalate", "Escalate"
    NOTE = "note", "Add note"
    CLAIM = "claim", "Claim"
    ASSIGN = "assign", "Assign"
    REOPEN = "reopen", "Reopen"


DECISION_ACTIONS = (CaseAction.APPROVE, CaseAction.REJECT, CaseAction.ESCALATE)


class LabelImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
