from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "evolab.accounts"
    label = "accounts"

    def ready(self) -> None:
        from . import throttle  # noqa: F401  (connects the sign-in throttle's signal receivers)
