from django.contrib import admin

from cases.models import FeedbackLabel


@admin.register(FeedbackLabel)
class FeedbackLabelAdmin(admin.ModelAdmin):
    list_display = ("transaction", "is_fraud", "source", "known_at", "created_by")
    list_filter = ("is_fraud", "source")
    search_fields = ("transaction__external_id", "note")
    raw_id_fields = ("transaction",)
    list_select_related = ("transaction", "created_by")
    date_hierarchy = "known_at"
