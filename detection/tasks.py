from celery import shared_task

from detection.model_training import models_train


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def train_models(*, seed: int = 42, activate: bool = True, ae_epochs: int = 30) -> list[int]:
    """Train new model versions from the stored history (scheduled or on demand)."""
    versions = models_train(seed=seed, activate=activate, ae_epochs=ae_epochs)
    return [version.pk for version in versions]
