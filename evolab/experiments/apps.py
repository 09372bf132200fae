from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "evolab.experiments"
    label = "experiments"
