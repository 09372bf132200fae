"""Every HTML page carries the strict Content-Security-Policy (evolab/security_headers.py) and
Django's other security headers; error messages shown to users carry no server path."""

import re

import pytest
from django.urls import URLResolver, get_resolver

from evolab.experiments import services
from evolab.redaction import redact_paths
from evolab.security_headers import HEADER

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws://testserver wss://testserver; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Django's own, from SecurityMiddleware and XFrameOptionsMiddleware.
OTHERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def page_routes(patterns=None, prefix=""):
    """Our pages from the resolver (a new page is covered the day it is added); the API's
    and the admin's are visited below by hand, they are too many and mostly JSON."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(p.pattern)
        if route.startswith(("api/", "admin/")) or route.endswith(".json"):
            continue
        if isinstance(p, URLResolver):
            yield from page_routes(p.url_patterns, route)
        else:
            yield route


@pytest.fixture
def world(team, admin, member):
    admin.is_staff = admin.is_superuser = True
    admin.save()
    exp = services.create_experiment(team, admin, "csp", {"population": 2, "max_individuals": 4})
    return {"pk": exp.pk, "team": team.pk, "user_id": member.pk, "admin": admin}


def fill(route: str, world: dict) -> str:
    ids = {**world, "pk": world["team"] if route.startswith("accounts/teams") else world["pk"]}
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), "x")), route)


def test_every_html_page_carries_the_strict_policy_and_djangos_headers(client, world):
    client.force_login(world["admin"])
    paths = {fill(route, world) for route in page_routes()} | {
        "/admin/", "/admin/auth/user/", f"/admin/auth/user/{world['admin'].pk}/change/",
        "/api/docs/", "/no-such-page/", f"/experiments/{world['pk']}/?compare=1",
    }  # fmt: skip
    html = 0
    for path in sorted(paths):
        r = client.get(path)
        if not r.get("Content-Type", "").startswith("text/html"):
            continue
        html += 1
        assert r[HEADER] == STRICT, path
        assert {name: r.get(name) for name in OTHERS} == OTHERS, path
    assert html >= 15  # login, lists, detail, compare, settings, teams, admin, docs, 404...
    client.logout()
    assert client.get("/accounts/login/")[HEADER] == STRICT


def test_swaggers_start_up_script_is_a_file_not_inline(client):
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page and "<style>" not in page and "?script" in page
    assert client.get("/api/docs/?script")["Content-Type"].startswith("application/javascript")


def test_only_the_browsable_api_may_use_inline_styles_and_never_inline_script(client, world):
    client.force_login(world["admin"])
    r = client.get("/api/teams/", HTTP_ACCEPT="text/html")
    assert r["Content-Type"].startswith("text/html")
    assert "style-src 'self' 'unsafe-inline'; " in r[HEADER]
    assert "script-src 'self'; " in r[HEADER]
    assert "'unsafe-inline'" not in client.get("/api/teams/")[HEADER]  # JSON: strict


# Downloaded files, never served as a page under the site's CSP: their CSS is inline.
STANDALONE = {"report_file.html"}


def test_our_templates_hold_no_inline_script_style_or_handler():
    from django.conf import settings

    script = r"<script(?![^>]*\b(src|type=\"application/json\")\b)"
    bad = re.compile(script + r"|<style|\sstyle=|\son\w+=")
    for path in (settings.BASE_DIR / "frontend" / "templates").rglob("*.html"):
        if path.name in STANDALONE:
            continue
        found = [line for line in path.read_text().splitlines() if bad.search(line)]
        assert not [f for f in found if "{% comment" not in f], (path, found)


def test_server_paths_leave_messages_as_setting_names_or_last_parts(settings, tmp_path):
    settings.EVOLAB_DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "media"
    text = (
        f"expected the extracted folder {tmp_path}/data/cifar-10-batches-py; "
        f"No such file or directory: '{tmp_path}/media/experiments/3/7-ab.safetensors'; "
        "File /srv/evolab/other/thing.py, see /api/docs/ or https://example.org/home/x"
    )
    assert redact_paths(text) == (
        "expected the extracted folder EVOLAB_DATA_DIR/cifar-10-batches-py; "
        "No such file or directory: 'MEDIA_ROOT/experiments/3/7-ab.safetensors'; "
        "File …/thing.py, see /api/docs/ or https://example.org/home/x"
    )


def test_a_failed_childs_reason_and_an_api_error_lose_their_paths(team, member):
    from rest_framework.exceptions import ValidationError

    from evolab.evolution.dna import DNA
    from evolab.experiments import events, leases
    from evolab.experiments.models import Individual
    from evolab.redaction import exception_handler

    exp = services.create_experiment(team, member, "paths", {"population": 2})
    ind = Individual.objects.create(experiment=exp, number=0, dna=DNA.initial().to_json())
    reason = "FileNotFoundError: [Errno 2] No such file or directory: '/srv/lab/var/w/7.bin'"
    leases.fail_individual(ind, reason, events.Outbox(exp))
    ind.refresh_from_db()
    assert ind.failure_reason == "FileNotFoundError: [Errno 2] No such file or directory: '…/7.bin'"
    body = exception_handler(ValidationError({"dataset": ["no /home/ann/data/x here"]}), {}).data
    assert body == {"dataset": ["no …/x here"]} and body["dataset"][0].code == "invalid"
