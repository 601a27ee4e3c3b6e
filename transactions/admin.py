from django.contrib import admin

from transactions.models import (
    Account,
    Counterparty,
    Customer,
    ImportBatch,
    ImportBatchChunk,
    ImportMapping,
    Transaction,
)


class AccountInline(admin.TabularInline):
    model = Account
    extra = 0
    fields = ("number", "account_type", "currency", "status", "opened_at")
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "name", "email", "phone", "home_country", "created_at")
    list_filter = ("home_country",)
    search_fields = ("external_id", "name", "email", "phone")
    inlines = [AccountInline]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("number", "customer", "account_type", "currency", "status", "opened_at")
    list_filter = ("account_type", "status", "currency")
    search_fields = ("number", "customer__name", "customer__external_id")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)


@admin.register(Counterparty)
class CounterpartyAdmin(admin.ModelAdmin):
    list_display = ("identifier", "name", "kind", "country")
    list_filter = ("kind", "country")
    search_fields = ("identifier", "name")


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "occurred_at",
        "account",
        "counterparty",
        "amount",
        "currency",
        "transfer_type",
        "country",
        "channel",
        "status",
        "source_label",
    )
    list_filter = ("status", "transfer_type", "channel", "source_label", "source_scenario")
    search_fields = ("external_id", "account__number", "counterparty__identifier")
    list_select_related = ("account", "counterparty")
    autocomplete_fields = ("account", "counterparty")
    readonly_fields = ("submitted_by", "submitted_key", "idempotency_key")
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "created_by", "updated_at")
    search_fields = ("name", "description")
    readonly_fields = ("created_by",)

    def save_model(self, request, obj: ImportMapping, form, change: bool) -> None:  # noqa: ANN001
        if not obj.created_by_id:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ImportBatchChunkInline(admin.TabularInline):
    model = ImportBatchChunk
    extra = 0
    can_delete = False
    fields = ("index", "first_row", "row_count", "status", "rows_imported", "rows_scored")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    """Batches are read here; they are created by uploads, the API and the commands."""

    list_display = (
        "id",
        "original_filename",
        "owner",
        "source",
        "mode",
        "status",
        "rows_total",
        "rows_imported",
        "rows_rejected",
        "rows_duplicate",
        "rows_flagged",
        "created_at",
    )
    list_filter = ("status", "source", "mode", "input_format")
    search_fields = ("original_filename", "owner__username", "mapping_name")
    date_hierarchy = "created_at"
    inlines = [ImportBatchChunkInline]

    def get_readonly_fields(self, request, obj=None) -> list[str]:  # noqa: ANN001
        return [field.name for field in ImportBatch._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(ImportBatchChunk)
class ImportBatchChunkAdmin(admin.ModelAdmin):
    list_display = ("batch", "index", "status", "row_count", "rows_imported", "rows_scored")
    list_filter = ("status",)
    list_select_related = ("batch",)

    def get_readonly_fields(self, request, obj=None) -> list[str]:  # noqa: ANN001
        return [field.name for field in ImportBatchChunk._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False
