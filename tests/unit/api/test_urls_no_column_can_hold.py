"""Numbers that are not plain ASCII integers, or that overflow a database id, and NUL
characters anywhere in the URL get a 400 or a 404 with a message, never a 500 (on
PostgreSQL too: `DATABASE_URL=postgresql://... pytest` runs these against it)."""

import pytest
from django.test import Client

from .conftest import api, store_individual

HUGE = "123456789012345678901234567890"
PAGES = ["/experiments/compare/?ids=²", f"/experiments/compare/?ids={HUGE}",
         "/experiments/?q=a%00b", "/experiments/?status=a%00b", "/experiments/?dataset=%00",
         f"/experiments/{HUGE}/", f"/experiments/{HUGE}/snapshot.json"]  # fmt: skip
API = ["/api/experiments/?ids=²", "/api/experiments/?limit=9223372036854775808",
       "/api/experiments/?limit=²", "/api/experiments/?team=²", "/api/experiments/?q=%00",
       "/api/experiments/{e}/events/?after=²", f"/api/experiments/{{e}}/events/?after={HUGE}",
       "/api/experiments/{e}/individuals/?mutation=a%00b", f"/api/individuals/{HUGE}/lineage/",
       f"/api/individuals/{HUGE}/", f"/api/experiments/{HUGE}/"]  # fmt: skip


@pytest.mark.django_db
def test_no_url_reaches_a_500(exp, member):
    store_individual(exp)
    web = Client(raise_request_exception=False)
    web.force_login(member)
    client = api(member)
    answers = {}
    for url in PAGES:
        answers[url] = web.get(url).status_code
    for url in API:
        answers[url] = client.get(url.format(e=exp.pk)).status_code
    assert all(code < 500 for code in answers.values()), answers
    assert answers["/experiments/?q=a%00b"] == 400
    assert answers[f"/experiments/compare/?ids={HUGE}"] == 200  # ignored, like any unknown id


@pytest.mark.django_db
def test_a_nul_in_the_url_is_refused_with_a_message(member):
    client = api(member)
    r = client.get("/api/experiments/?status=%00")
    assert r.status_code == 400 and "Null characters" in r.json()["detail"]
