from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "evolab.accounts"
    label = "accounts"
