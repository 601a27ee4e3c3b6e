import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html

from detection.models import ModelVersion, RuleLimit, RuleLimitChange, TransactionScore
from detection.services import rule_limit_check, rule_limit_update


class RuleLimitForm(forms.ModelForm):
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the limit changes; kept in the history.",
    )

    class Meta:
        model = RuleLimit
        fields = ("value", "enabled", "severity")

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.instance.pk and cleaned.get("value") is not None:
            try:
                rule_limit_check(
                    limit=self.instance, value=cleaned["value"], enabled=cleaned.get("enabled")
                )
            except ValidationError as exc:
                raise ValidationError(exc.message_dict) from exc
        return cleaned


class RuleLimitChangeInline(admin.TabularInline):
    model = RuleLimitChange
    extra = 0
    can_delete = False
    ordering = ("-changed_at", "-id")
    fields = (
        "changed_at",
        "changed_by",
        "old_value",
        "new_value",
        "old_enabled",
        "new_enabled",
        "old_severity",
        "new_severity",
        "note",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RuleLimit)
class RuleLimitAdmin(admin.ModelAdmin):
    """Limits are edited here; every save goes through rule_limit_update (history)."""

    form = RuleLimitForm
    list_display = ("name", "code", "category", "value", "unit", "severity", "enabled")
    list_filter = ("category", "enabled", "severity")
    search_fields = ("code", "name")
    readonly_fields = ("code", "name", "category", "unit", "description", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "category", "description")}),
        ("Setting", {"fields": ("value", "unit", "severity", "enabled", "note")}),
        ("Last change", {"fields": ("updated_at",)}),
    )
    inlines = [RuleLimitChangeInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the rules know a fixed set of codes

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: RuleLimit, form: RuleLimitForm, change: bool
    ) -> None:
        rule_limit_update(
            limit=obj,
            value=form.cleaned_data["value"],
            enabled=form.cleaned_data["enabled"],
            severity=form.cleaned_data["severity"],
            changed_by=request.user,
            note=form.cleaned_data.get("note", ""),
        )
        obj.refresh_from_db()


@admin.register(RuleLimitChange)
class RuleLimitChangeAdmin(admin.ModelAdmin):
    list_display = (
        "changed_at",
        "limit",
        "old_value",
        "new_value",
        "old_enabled",
        "new_enabled",
        "changed_by",
        "note",
    )
    list_filter = ("limit__category", "limit")
    search_fields = ("limit__code", "limit__name", "note", "changed_by__username")
    list_select_related = ("limit", "changed_by")
    date_hierarchy = "changed_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Versions come from training; activation goes through the promote service."""

    list_display = (
        "kind",
        "version",
        "is_active",
        "trained_from",
        "trained_until",
        "format_version",
        "short_spec_hash",
        "created_at",
        "created_by",
    )
    list_filter = ("kind", "is_active")
    search_fields = ("artifact_path", "notes")
    readonly_fields = (
        "kind",
        "version",
        "is_active",
        "artifact_path",
        "format_version",
        "feature_spec_hash",
        "trained_from",
        "trained_until",
        "metrics_pretty",
        "created_at",
        "created_by",
    )
    fields = (*readonly_fields, "notes")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Spec")
    def short_spec_hash(self, obj: ModelVersion) -> str:
        return obj.feature_spec_hash[:12]

    @admin.display(description="Metrics")
    def metrics_pretty(self, obj: ModelVersion) -> str:
        return _pretty_json(obj.metrics)


def _pretty_json(value: object) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(TransactionScore)
class TransactionScoreAdmin(admin.ModelAdmin):
    list_display = (
        "transaction",
        "scored_at",
        "risk_score",
        "outcome",
        "rule_hit_count",
        "latency_ms",
        "explained",
    )
    list_filter = ("outcome", "explained")
    search_fields = ("transaction__external_id", "transaction__account__number")
    list_select_related = ("transaction",)
    date_hierarchy = "scored_at"
    show_full_result_count = False
    readonly_fields = (
        "transaction",
        "risk_score",
        "outcome",
        "scored_at",
        "latency_ms",
        "explained",
        "feature_spec_hash",
        "model_versions",
        "reasons_pretty",
        "rule_hits_pretty",
        "model_scores_pretty",
        "contributions_pretty",
        "features_pretty",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Rule hits")
    def rule_hit_count(self, obj: TransactionScore) -> int:
        return len(obj.rule_hits or [])

    @admin.display(description="Reasons")
    def reasons_pretty(self, obj: TransactionScore) -> str:
        return _pretty_json(obj.reasons)

    @admin.display(description="Rule hits")
    def rule_hits_pretty(self, obj: TransactionScore) -> str:
        return _pretty_json(obj.rule_hits)

    @admin.display(description="Model scores")
    def model_scores_pretty(self, obj: TransactionScore) -> str:
        return _pretty_json(obj.model_scores)

    @admin.display(description="Contributions")
    def contributions_pretty(self, obj: TransactionScore) -> str:
        return _pretty_json(obj.contributions)

    @admin.display(description="Features")
    def features_pretty(self, obj: TransactionScore) -> str:
        from detection.features.spec import FEATURE_NAMES

        values = obj.features or []
        return _pretty_json(dict(zip(FEATURE_NAMES, values)))
