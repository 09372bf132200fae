"""The pages the other browser tests do not drive, under the Content-Security-Policy: the
account pages, the run form, the Django admin, Swagger UI and the browsable API. The page
fixture (conftest.py) fails a test on any violation the browser reports."""

import pytest

from tests.integration.harness import PASSWORD

from .test_first_run_in_the_browser import log_in

pytestmark = pytest.mark.browser

STAFF = """
from django.contrib.auth.models import User
if not User.objects.filter(username="root").exists():
    User.objects.create_superuser("root", "", "{password}")
"""


def test_the_account_pages_and_the_run_form(stack, page):
    log_in(page, stack)
    ((team,),) = stack.sql("SELECT id FROM accounts_team WHERE name = 'Vision'")
    for path in ("/accounts/settings/", "/accounts/teams/", f"/accounts/teams/{team}/",
                 "/accounts/password/", "/experiments/new/"):  # fmt: skip
        page.goto(stack.url + path)
        page.wait_for_load_state("load")
    page.goto(f"{stack.url}/accounts/settings/")
    page.fill("#id_name", "csp")
    page.click("form[action$='/settings/tokens/'] button")
    page.wait_for_selector("code.new-token", timeout=10_000)


def test_swagger_ui_and_the_browsable_api(stack, page):
    log_in(page, stack)
    page.goto(f"{stack.url}/api/docs/")
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    page.click(".opblock-summary >> nth=0")
    page.wait_for_selector(".opblock-body", timeout=10_000)
    page.goto(f"{stack.url}/api/teams/")  # HTML: the browser asks for text/html
    page.wait_for_selector("#content, .content-main")


def test_the_django_admin(stack, page):
    stack.manage("shell", "-c", STAFF.format(password=PASSWORD))
    page.goto(f"{stack.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{stack.url}/admin/")
    ((team,),) = stack.sql("SELECT id FROM accounts_team WHERE name = 'Vision'")
    for path in ("/admin/auth/user/", "/admin/auth/user/add/",
                 f"/admin/accounts/team/{team}/change/", "/admin/accounts/apitoken/"):  # fmt: skip
        page.goto(stack.url + path)
        page.wait_for_load_state("load")


def test_the_watch_catches_a_violation(stack, page, csp_violations):
    page.goto(f"{stack.url}/accounts/login/")
    page.evaluate("document.body.setAttribute('style', 'color: red')")  # inline style: refused
    page.wait_for_timeout(300)
    assert csp_violations and "style-src" in " ".join(csp_violations)
    csp_violations.clear()
