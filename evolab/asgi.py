"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evolab.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter  # noqa: E402

from evolab.experiments.routing import websocket_router  # noqa: E402
from evolab.launcher_watch import die_with_launcher  # noqa: E402
from evolab.ws_auth import TokenAuthMiddleware  # noqa: E402
from evolab.ws_origin import StrictOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A missing or foreign Origin (scheme, host and port) is refused (cross-site
        # websocket hijacking); scripts sign in with an API token header instead.
        "websocket": StrictOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(websocket_router))
        ),
    }
)

die_with_launcher()  # `make run`'s web server stops when its launcher is killed
