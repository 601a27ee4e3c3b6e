from django.db import models


class LabelSource(models.TextChoices):
    CASE_DECISION = "case_decision", "Investigator decision"
    CHARGEBACK = "chargeback", "Chargeback"
    CUSTOMER_CONFIRMATION = "customer_confirmation", "Customer confirmation"
    API = "api", "API feedback"
    IMPORT = "import", "Imported with the data"
