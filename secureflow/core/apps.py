from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "secureflow.core"
    label = "core"
    verbose_name = "SecureFlow core"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from secureflow.core.authentication import connect_signals
        from secureflow.core.client_address import trusted_networks
        from secureflow.core.session_idle import on_user_logged_in

        trusted_networks()  # a mistyped proxy network stops the start, not a request later

        post_migrate.connect(_create_role_groups, sender=self)
        connect_signals()
        user_logged_in.connect(on_user_logged_in, dispatch_uid="core.session_renewed_at_login")


def _create_role_groups(sender: AppConfig, **kwargs: object) -> None:
    from secureflow.core.roles import ensure_role_groups

    ensure_role_groups(using=str(kwargs.get("using", "default")))
