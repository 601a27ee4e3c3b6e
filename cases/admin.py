from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from cases.choices import CaseResolution
from cases.models import Case, CaseEvent, FeedbackLabel, LabelImport
from cases.services import BulkResult, CaseError, cases_bulk_assign, cases_bulk_close

ADMIN_CLOSE_NOTE = "Closed from the admin site."


@admin.register(FeedbackLabel)
class FeedbackLabelAdmin(admin.ModelAdmin):
    list_display = ("transaction", "is_fraud", "source", "known_at", "created_by")
    list_filter = ("is_fraud", "source")
    search_fields = ("transaction__external_id", "note", "idempotency_key")
    readonly_fields = ("idempotency_key",)
    raw_id_fields = ("transaction",)
    list_select_related = ("transaction", "created_by")
    date_hierarchy = "known_at"


class ReadOnlyAdminMixin:
    """Changes go through cases.services (which write the audit events), never a form."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    fields = ("created_at", "kind", "actor", "before", "after", "note")
    readonly_fields = fields
    extra = 0
    ordering = ("created_at", "id")


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "transaction",
        "status",
        "resolution",
        "outcome",
        "risk_score",
        "amount",
        "priority",
        "assignee",
        "sla_due_at",
        "opened_at",
    )
    list_filter = (
        "status",
        "resolution",
        "outcome",
        ("assignee", admin.RelatedOnlyFieldListFilter),
        "opened_at",
    )
    search_fields = (
        "=id",
        "transaction__external_id",
        "transaction__account__number",
        "transaction__account__customer__external_id",
        "transaction__account__customer__name",
    )
    list_select_related = ("transaction", "assignee")
    date_hierarchy = "opened_at"
    inlines = [CaseEventInline]
    actions = ["assign_to_me", "close_as_legitimate", "close_as_fraud"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Case._meta.fields]

    def _report(self, request: HttpRequest, verb: str, result: BulkResult) -> None:
        if result.done:
            self.message_user(request, f"{verb} {len(result.done)} case(s).", messages.SUCCESS)
        for pk, reason in result.skipped:
            self.message_user(request, f"Case {pk} was not changed: {reason}", messages.WARNING)

    @admin.action(description="Assign the selected cases to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        try:
            result = cases_bulk_assign(
                selections=dict.fromkeys(queryset.values_list("pk", flat=True)),
                assignee=request.user,
                actor=request.user,
            )
        except CaseError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self._report(request, "Assigned", result)

    def _close(self, request: HttpRequest, queryset: QuerySet[Case], resolution: str) -> None:
        try:
            result = cases_bulk_close(
                selections=dict.fromkeys(queryset.values_list("pk", flat=True)),
                actor=request.user,
                resolution=resolution,
                note=ADMIN_CLOSE_NOTE,
            )
        except CaseError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self._report(request, "Closed", result)

    @admin.action(description="Close the selected cases as legitimate")
    def close_as_legitimate(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._close(request, queryset, CaseResolution.LEGITIMATE)

    @admin.action(description="Close the selected cases as confirmed fraud")
    def close_as_fraud(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._close(request, queryset, CaseResolution.FRAUD)


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "case", "kind", "actor", "note")
    list_filter = ("kind",)
    search_fields = ("=case__id", "note", "case__transaction__external_id")
    list_select_related = ("case", "actor")
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in CaseEvent._meta.fields]


@admin.register(LabelImport)
class LabelImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Label files uploaded on the labels page: read only (the worker writes them)."""

    list_display = (
        "id",
        "original_filename",
        "owner",
        "status",
        "rows_total",
        "rows_stored",
        "rows_present",
        "rows_rejected",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "default_source")
    search_fields = ("original_filename", "owner__username")
    list_select_related = ("owner",)
