from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, views_invitations

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("settings/", views.settings_page, name="account-settings"),
    path("settings/tokens/", views.token_create, name="token-create"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("teams/", views.team_list, name="team-list"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("teams/<int:pk>/", views.team_detail, name="team-detail"),
    path("teams/<int:pk>/settings/", views.team_settings, name="team-settings"),
    path("teams/<int:pk>/invite/", views.team_invite, name="team-invite"),
    path(
        "teams/<int:pk>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("teams/<int:pk>/members/<int:user_id>/role/", views.member_role, name="member-role"),
    path(
        "teams/<int:pk>/members/<int:user_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path("signup/", views_invitations.signup, name="signup"),
    path("invite/", views_invitations.invitation, name="invitation"),
    path("invite/<str:secret>/", views_invitations.invitation_open, name="invitation-open"),
]
