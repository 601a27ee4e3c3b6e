"""Django admin for the core app: API keys (made here, shown once, revoked here)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from secureflow.core.api_keys import api_key_create, api_key_revoke
from secureflow.core.models import ApiKey


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name", "expires_at")

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "shown_prefix",
        "state",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    autocomplete_fields = ("user",)
    actions = ("revoke_keys",)
    readonly_fields = (
        "user",
        "shown_prefix",
        "state",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    )
    fields = readonly_fields[:2] + ("name", "expires_at") + readonly_fields[2:]

    @admin.display(description="key")
    def shown_prefix(self, api_key: ApiKey) -> str:
        return f"{api_key.prefix}…"

    @admin.display(description="state")
    def state(self, api_key: ApiKey) -> str:
        if api_key.revoked_at is not None:
            return "revoked"
        if not api_key.usable_at(timezone.now()):
            return "expired"
        return "active"

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return ApiKeyAddForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return () if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = api_key_create(
            user=obj.user, name=obj.name, created_by=request.user, expires_at=obj.expires_at
        )
        obj.pk = issued.api_key.pk  # the admin's messages and redirect name this key
        obj.prefix, obj.digest = issued.api_key.prefix, issued.api_key.digest
        messages.warning(
            request,
            f"API key for {obj.user}: {issued.key} — copy it now: it is stored only as a "
            "digest and will not be shown again.",
        )

    @admin.action(description="Revoke the selected API keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(api_key_revoke(api_key=key, revoked_by=request.user) for key in queryset)
        self.message_user(request, f"{revoked} API key(s) revoked.", messages.SUCCESS)
