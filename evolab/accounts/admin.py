from django.contrib import admin

from .forms import AdminLoginForm
from .models import ApiToken, Invitation, Membership, Team

# /admin/login/ asks the sign-in throttle first, like /accounts/login/ (accounts/throttle.py).
admin.site.login_form = AdminLoginForm


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "created"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["role", "team"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins may see and revoke tokens but never read a key (only its digest is stored)."""

    list_display = ["user", "name", "prefix", "created", "last_used", "revoked"]
    readonly_fields = ["user", "name", "prefix", "digest", "created", "last_used"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are made in the settings page or with `manage.py apitoken`


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["team", "role", "created_by", "created", "expires", "used", "used_by"]
    readonly_fields = ["digest"]
