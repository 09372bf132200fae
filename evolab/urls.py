from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from evolab.accounts.api import TeamViewSet
from evolab.experiments.api import ExperimentViewSet, IndividualViewSet
from evolab.experiments.api_datasets import DatasetViewSet
from evolab.notifications.api import WebhookViewSet

from .health import healthz

router = DefaultRouter()
# `?format=` and `.json` suffixes would collide with the download formats; JSON is the default.
router.include_format_suffixes = False
router.register("teams", TeamViewSet, basename="api-team")
router.register("experiments", ExperimentViewSet, basename="api-experiment")
router.register("individuals", IndividualViewSet, basename="api-individual")
router.register("datasets", DatasetViewSet, basename="api-dataset")
router.register(
    r"teams/(?P<team_id>[0-9]{1,18})/webhooks", WebhookViewSet, basename="api-team-webhook"
)

urlpatterns = [
    path("", RedirectView.as_view(url="/experiments/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("evolab.accounts.urls")),
    path("accounts/", include("evolab.notifications.urls")),
    path("experiments/", include("evolab.experiments.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from drf-spectacular-sidecar's static files: no CDN. Its start-up script is
    # served from /api/docs/?script, not inlined in the page (the CSP runs no inline script).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include(router.urls)),
    path("admin/", admin.site.urls),
]

# What Django itself refuses under /api/ (no such route, a body too large) answers JSON too;
# elsewhere the site's styled pages (frontend/templates/403.html, 404.html, 500.html).
handler400 = "evolab.api_contract.bad_request"
handler403 = "evolab.api_contract.permission_denied"
handler404 = "evolab.api_contract.not_found"
handler500 = "evolab.api_contract.server_error"
