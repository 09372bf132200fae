from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "evolab.notifications"
    label = "notifications"

    def ready(self) -> None:
        from .triggers import connect

        connect()  # run events (status changes, births) may notify subscribers
