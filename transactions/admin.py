from django.contrib import admin

from transactions.models import Account, Counterparty, Customer, Transaction


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
    date_hierarchy = "occurred_at"
    show_full_result_count = False
