from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.choices import AlertChannel, DeliveryStatus
from alerts.destinations import new_webhook_secret
from alerts.forms import RuleForm, TransferTypesField
from alerts.models import AlertDelivery, AlertRule, AlertSubscription
from alerts.services import alert_deliveries_retry
from secureflow.core import roles


class AlertFiltersAdminMixin:
    """Transfer types as check boxes; a webhook gets a signing secret when it has none
    (or when a new one is asked for)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):  # noqa: ANN001, ANN201
        if db_field.name == "transfer_types":
            return TransferTypesField(label="Transfer types")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if obj.channel == AlertChannel.WEBHOOK and (
            not obj.webhook_secret or form.cleaned_data.get("rotate_webhook_secret")
        ):
            obj.webhook_secret = new_webhook_secret()
        super().save_model(request, obj, form, change)


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(AlertFiltersAdminMixin, admin.ModelAdmin):
    list_display = (
        "user",
        "channel",
        "destination",
        "min_risk",
        "include_blocked",
        "transfer_types",
        "min_amount",
        "quiet_hours_start",
        "quiet_hours_end",
        "is_active",
    )
    list_filter = ("channel", "is_active", "include_blocked")
    search_fields = ("user__username", "destination")
    autocomplete_fields = ("user",)
    readonly_fields = ("webhook_secret", "created_at", "updated_at")


@admin.register(AlertRule)
class AlertRuleAdmin(AlertFiltersAdminMixin, admin.ModelAdmin):
    form = RuleForm
    list_display = (
        "name",
        "channel",
        "recipient_group",
        "min_risk",
        "include_blocked",
        "is_active",
    )
    list_filter = ("channel", "is_active")
    search_fields = ("name", "destinations")
    readonly_fields = ("webhook_secret", "created_by", "created_at", "updated_at")

    def save_model(
        self, request: HttpRequest, obj: AlertRule, form: RuleForm, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: read only, with a retry action for failed alerts."""

    list_display = (
        "queued_at",
        "transaction",
        "channel",
        "destination",
        "status",
        "reason",
        "attempts",
        "short_error",
        "sent_at",
    )
    list_filter = ("status", "channel", "reason")
    search_fields = ("destination", "transaction__external_id", "last_error")
    date_hierarchy = "queued_at"
    list_select_related = ("transaction",)
    actions = ["retry_failed"]

    def get_readonly_fields(self, request: HttpRequest, obj: AlertDelivery | None = None) -> list:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return roles.is_admin(request.user)

    @admin.display(description="Last error")
    def short_error(self, obj: AlertDelivery) -> str:
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(description="Retry the selected failed alerts", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[AlertDelivery]) -> None:
        ids = alert_deliveries_retry(
            delivery_ids=queryset.filter(status=DeliveryStatus.FAILED).values_list("pk", flat=True)
        )
        skipped = queryset.count() - len(ids)
        self.message_user(request, f"{len(ids)} failed alert(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} selected alert(s) had not failed and were left.", messages.INFO
            )
