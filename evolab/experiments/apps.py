from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "evolab.experiments"
    label = "experiments"

    def ready(self) -> None:
        from .access import connect_signals

        connect_signals()  # open websockets hear of membership changes and logouts
