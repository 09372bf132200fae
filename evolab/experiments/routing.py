from channels.generic.websocket import WebsocketConsumer
from channels.routing import URLRouter
from django.urls import path, re_path

from .consumers import ExperimentConsumer, ExperimentListConsumer

websocket_urlpatterns = [
    path("ws/experiments/", ExperimentListConsumer.as_asgi()),
    path("ws/experiments/<int:pk>/", ExperimentConsumer.as_asgi()),
]


class NoSuchRoute(WebsocketConsumer):
    """A handshake to a path no route matches is refused (HTTP 403), not answered with 500."""

    def connect(self) -> None:
        self.close()


websocket_router = URLRouter([*websocket_urlpatterns, re_path(r"", NoSuchRoute.as_asgi())])
