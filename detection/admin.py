import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from detection.models import (
    ModelPromotion,
    ModelVersion,
    RetrainingRun,
    RetrainingTrigger,
    RuleLimit,
    RuleLimitChange,
    ShadowScore,
    TransactionScore,
)
from detection.services import rule_limit_check, rule_limit_update
from secureflow.core import roles


class AdminRoleMixin:
    """Staff with the Admin role may view these pages and run their actions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or (
            request.user.is_staff and roles.is_admin(request.user)
        )

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return super().has_view_permission(request, obj) or (
            request.user.is_staff and roles.is_admin(request.user)
        )

    def has_secureflow_admin_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff and roles.is_admin(request.user))


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

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # as on the settings page: the Admin role changes limits, whatever else staff may do
        return super().has_change_permission(request, obj) and roles.is_admin(request.user)

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
class ModelVersionAdmin(AdminRoleMixin, admin.ModelAdmin):
    """Versions come from training; activation goes through the promote service, and every
    action here is audited (ModelPromotion, RetrainingRun)."""

    actions = [
        "train_challenger",
        "promote_selected",
        "roll_back",
        "put_in_shadow",
        "take_out_of_shadow",
    ]
    list_display = (
        "kind",
        "version",
        "is_active",
        "is_shadow",
        "trained_from",
        "trained_until",
        "format_version",
        "short_spec_hash",
        "created_at",
        "created_by",
    )
    list_filter = ("kind", "is_active", "is_shadow")
    search_fields = ("artifact_path", "notes")
    readonly_fields = (
        "kind",
        "version",
        "is_active",
        "is_shadow",
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

    @admin.action(
        description="Train a new challenger and compare with the champion",
        permissions=["secureflow_admin"],
    )
    def train_challenger(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        from detection.retraining.service import retraining_run_create
        from detection.tasks import retrain_models

        run = retraining_run_create(trigger=RetrainingTrigger.ADMIN, requested_by=request.user)
        transaction.on_commit(lambda: retrain_models.delay(run_id=run.pk))
        self.message_user(
            request,
            f"Retraining run #{run.pk} queued: a worker trains the challenger, compares it "
            "with the champion on the same holdout and promotes it only if it is better.",
            messages.SUCCESS,
        )

    @admin.action(description="Promote selected version(s)", permissions=["secureflow_admin"])
    def promote_selected(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        from detection.models import PromotionTrigger
        from detection.retraining.promotion import model_versions_promote

        versions = list(queryset.order_by("kind"))
        try:
            promotion = model_versions_promote(
                versions=versions,
                trigger=PromotionTrigger.MANUAL,
                promoted_by=request.user,
                reason=f"promoted by {request.user.get_username()} in admin: "
                + ", ".join(f"{v.get_kind_display()} v{v.version}" for v in versions),
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"Promotion #{promotion.pk}: {promotion.reason}")

    @admin.action(
        description="Roll back to the previous champion (undo the last promotion)",
        permissions=["secureflow_admin"],
    )
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        from detection.retraining.promotion import model_versions_roll_back

        try:
            rollback = model_versions_roll_back(
                rolled_back_by=request.user, reason=f"by {request.user.get_username()} in admin"
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, rollback.reason)

    @admin.action(
        description="Put selected version(s) in shadow (score live traffic, decide nothing)",
        permissions=["secureflow_admin"],
    )
    def put_in_shadow(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        from detection.retraining.promotion import model_versions_shadow

        try:
            versions = model_versions_shadow(versions=list(queryset), enabled=True)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, "In shadow: " + ", ".join(str(v) for v in versions))

    @admin.action(
        description="Take selected version(s) out of shadow", permissions=["secureflow_admin"]
    )
    def take_out_of_shadow(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        from detection.retraining.promotion import model_versions_shadow

        versions = model_versions_shadow(
            versions=list(queryset.filter(is_shadow=True)), enabled=False
        )
        self.message_user(request, f"{len(versions)} version(s) taken out of shadow.")

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
        "model_versions_list",
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

    @admin.display(description="Model versions")
    def model_versions_list(self, obj: TransactionScore) -> str:
        return ", ".join(str(version) for version in obj.model_versions) or "-"

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


class ReadOnlyAuditAdmin(AdminRoleMixin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RetrainingRun)
class RetrainingRunAdmin(ReadOnlyAuditAdmin):
    list_display = (
        "id",
        "created_at",
        "trigger",
        "status",
        "decision",
        "champion_ap",
        "challenger_ap",
        "requested_by",
    )
    list_filter = ("trigger", "status", "decision")
    date_hierarchy = "created_at"
    list_select_related = ("requested_by",)
    fields = (
        "trigger",
        "status",
        "decision",
        "reason",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "train_until",
        "holdout_start",
        "holdout_end",
        "holdout_pretty",
        "champion_versions",
        "challenger_versions",
        "champion_metrics_pretty",
        "challenger_metrics_pretty",
        "rule_pretty",
        "timings_pretty",
        "error",
    )
    readonly_fields = fields

    @admin.display(description="Champion AP")
    def champion_ap(self, obj: RetrainingRun) -> str:
        return _metric(obj.champion_metrics, "average_precision")

    @admin.display(description="Challenger AP")
    def challenger_ap(self, obj: RetrainingRun) -> str:
        return _metric(obj.challenger_metrics, "average_precision")

    @admin.display(description="Holdout")
    def holdout_pretty(self, obj: RetrainingRun) -> str:
        return _pretty_json(obj.holdout)

    @admin.display(description="Champion metrics")
    def champion_metrics_pretty(self, obj: RetrainingRun) -> str:
        return _pretty_json(obj.champion_metrics)

    @admin.display(description="Challenger metrics")
    def challenger_metrics_pretty(self, obj: RetrainingRun) -> str:
        return _pretty_json(obj.challenger_metrics)

    @admin.display(description="Promotion rule")
    def rule_pretty(self, obj: RetrainingRun) -> str:
        return _pretty_json(obj.rule)

    @admin.display(description="Timings (s)")
    def timings_pretty(self, obj: RetrainingRun) -> str:
        return _pretty_json(obj.timings)


def _metric(metrics: dict, key: str) -> str:
    value = (metrics or {}).get(key)
    return "—" if value is None else f"{value:.3f}"


@admin.register(ModelPromotion)
class ModelPromotionAdmin(ReadOnlyAuditAdmin):
    list_display = ("id", "created_at", "trigger", "promoted_by", "reason", "rolled_back_by")
    list_filter = ("trigger",)
    date_hierarchy = "created_at"
    list_select_related = ("promoted_by", "rolled_back_by")
    fields = (
        "created_at",
        "trigger",
        "promoted_by",
        "reason",
        "from_versions",
        "to_versions",
        "retraining_run",
        "rolled_back_by",
    )
    readonly_fields = fields


@admin.register(ShadowScore)
class ShadowScoreAdmin(ReadOnlyAuditAdmin):
    list_display = (
        "score",
        "created_at",
        "champion_outcome",
        "outcome",
        "champion_risk_score",
        "risk_score",
        "shadow_key",
    )
    list_filter = ("outcome", "champion_outcome", "shadow_key")
    list_select_related = ("score__transaction",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "score",
        "created_at",
        "champion_outcome",
        "outcome",
        "champion_risk_score",
        "risk_score",
        "model_scores",
        "model_version_ids",
        "shadow_key",
    )
    readonly_fields = fields
