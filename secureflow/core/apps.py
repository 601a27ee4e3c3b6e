from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "secureflow.core"
    label = "core"
    verbose_name = "SecureFlow core"

    def ready(self) -> None:
        from secureflow.core.authentication import connect_signals

        post_migrate.connect(_create_role_groups, sender=self)
        connect_signals()


def _create_role_groups(sender: AppConfig, **kwargs: object) -> None:
    from secureflow.core.roles import ensure_role_groups

    ensure_role_groups(using=str(kwargs.get("using", "default")))
