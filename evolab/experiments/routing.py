from django.urls import path

from .consumers import ExperimentConsumer, ExperimentListConsumer

websocket_urlpatterns = [
    path("ws/experiments/", ExperimentListConsumer.as_asgi()),
    path("ws/experiments/<int:pk>/", ExperimentConsumer.as_asgi()),
]
