from django.db import models


class TransferType(models.TextChoices):
    """Transfer type codes from the bank's core system. S is overseas."""

    OWN_ACCOUNT = "O", "Own-account transfer"
    INTERNAL = "I", "Internal transfer (same bank)"
    LOCAL = "L", "Local transfer (other bank)"
    QUICK = "Q", "Quick payment"
    OVERSEAS = "S", "Overseas transfer"


class TransactionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    APPROVED = "approved", "Approved"
    IN_REVIEW = "in_review", "In review"
    BLOCKED = "blocked", "Blocked"
    REJECTED = "rejected", "Rejected"
    FORCE_APPROVED = "force_approved", "Force approved"


class AccountType(models.TextChoices):
    CURRENT = "current", "Current"
    SAVINGS = "savings", "Savings"
    CARD = "card", "Card"
    BUSINESS = "business", "Business"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DORMANT = "dormant", "Dormant"
    FROZEN = "frozen", "Frozen"
    CLOSED = "closed", "Closed"


class Channel(models.TextChoices):
    MOBILE = "mobile", "Mobile app"
    WEB = "web", "Online banking"
    BRANCH = "branch", "Branch"
    ATM = "atm", "ATM"
    POS = "pos", "Card terminal"
    API = "api", "Open banking API"


class CounterpartyKind(models.TextChoices):
    ACCOUNT = "account", "Beneficiary account"
    MERCHANT = "merchant", "Merchant"
    TERMINAL = "terminal", "Terminal"


class BatchSource(models.TextChoices):
    UPLOAD = "upload", "Web upload"
    API = "api", "API"
    CLI = "cli", "Command line"


class BatchFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"


class BatchMode(models.TextChoices):
    SCORE = "score", "Import and score"
    IMPORT = "import", "Import only"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
