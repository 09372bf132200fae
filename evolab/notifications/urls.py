from django.urls import path

from . import views

urlpatterns = [
    path("teams/<int:pk>/webhooks/", views.webhook_create, name="team-webhook-create"),
    path(
        "teams/<int:pk>/webhooks/<int:webhook_id>/delete/",
        views.webhook_delete,
        name="team-webhook-delete",
    ),
    path("settings/notifications/", views.email_create, name="notification-create"),
    path(
        "settings/notifications/<int:subscription_id>/delete/",
        views.email_delete,
        name="notification-delete",
    ),
]
