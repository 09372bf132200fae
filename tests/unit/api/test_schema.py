"""OpenAPI 3 schema and the interactive docs, served without any CDN."""

import subprocess
import sys

from django.conf import settings


def test_the_schema_generates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for path in ("/api/experiments/{id}/clone/", "/api/individuals/{id}/download/", "/api/teams/"):
        assert path in result.stdout
    assert "min_accuracy" in result.stdout and "after" in result.stdout


def test_the_docs_page_loads_its_scripts_from_this_site(client, member):
    client.force_login(member)
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower() and "//unpkg" not in page
    assert client.get("/api/schema/").status_code == 200
