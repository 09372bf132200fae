"""Every URL pattern, API route, websocket route and download, against every kind of user.

Routes are enumerated from the resolver, so a new route is covered the day it is added:
anonymous users and the viewers and members of another team are refused everywhere (an
object of another team is a 404, never a 403); a team's viewer, member and admin get
exactly what their role allows.
"""

import asyncio
import re

import pytest
import websockets
from django.urls import URLResolver, get_resolver

from evolab.experiments.routing import websocket_urlpatterns

from .harness import run_async, ws_connect

pytestmark = pytest.mark.integration

CONFIG = {"dataset": "digits", "population": 3, "workers": 1, "steps_per_child": 5,
          "max_individuals": 4, "seed": 5}  # fmt: skip
PUBLIC = {None, "healthz", "login", "logout", "password_reset", "password_reset_done",
          "password_reset_confirm", "password_reset_complete", "signup", "invitation",
          "invitation-open", "schema", "api-docs"}  # fmt: skip
MEMBER_POSTS = {
    "experiment-control",
    "experiment-settings",
    "experiment-seed",
    "api-individual-pin",
    "api-dataset-list",
} | {
    f"api-experiment-{verb}"
    for verb in ("start", "pause", "resume", "stop", "clone", "workers", "escape", "evaluate")
}
ADMIN_POSTS = {"team-invite", "team-settings", "member-role", "member-remove",
               "invitation-revoke", "team-webhook-create", "team-webhook-delete"}  # fmt: skip
ADMIN_GETS = {"api-team-webhook-list", "api-team-webhook-detail",
              "api-team-webhook-deliveries"}  # a team's webhooks: its admins' only  # fmt: skip
# Made by the world: a team webhook and mia's e-mail subscription (inactive: no later run of
# the suite sends anything).
NOTICES = """
from django.contrib.auth.models import User
from evolab.accounts.models import Team
from evolab.notifications.models import Subscription
vision = Team.objects.get(name="Vision")
hook = Subscription.objects.create(team=vision, channel="webhook", events=["finished"],
                                   url="https://93.184.216.34/hook", secret="whsec_x", active=False)
mail = Subscription.objects.create(team=vision, channel="email", events=["finished"],
                                   user=User.objects.get(username="mia"), active=False)
"""
REFUSED_ANON = {401, 403, 405}
EXTRA_USERS = """
from django.contrib.auth.models import User
from evolab.accounts.models import Team, Membership
for name, team, role in [("olga", "Other lab", "viewer"), ("omar", "Other lab", "member"),
                         ("ada", "Vision", "admin"), ("tess", "Vision", "viewer")]:
    user, _ = User.objects.get_or_create(username=name)
    user.set_password("{password}"); user.save()
    Membership.objects.get_or_create(user=user, team=Team.objects.get(name=team), role=role)
"""


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p.name


def concrete(route: str, ids: dict) -> str:
    """Fill a route's parameters with the ids of Team Vision's objects."""
    kind = "individual" if "individuals/" in route and "experiments/" not in route else None
    kind = kind or ("webhook" if "webhooks/(?P<pk>" in route else None)  # the API's
    kind = kind or ("team" if "teams" in route else None)
    kind = kind or ("dataset" if "datasets/" in route else "experiment")

    def value(name: str) -> str:
        if name == "pk":
            return str(ids[kind])
        return str(ids.get(name, "x"))

    route = route.replace("^", "").replace("$", "").replace("\\.", ".")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: value(m.group(1)), route)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1)), route)


@pytest.fixture(scope="module")
def world(stack):
    from tests.integration.harness import PASSWORD

    stack.manage("shell", "-c", EXTRA_USERS.format(password=PASSWORD))
    mia = stack.session("mia")
    exp = stack.create(mia, CONFIG, name="secret-vision-run")
    body = stack.wait_status(mia, exp["id"], ("finished",), timeout=180)
    ((team,),) = stack.sql("SELECT id FROM accounts_team WHERE name = 'Vision'")
    ((tess,),) = stack.sql("SELECT id FROM auth_user WHERE username = 'tess'")
    ((number,),) = stack.sql("SELECT number FROM experiments_individual WHERE id = ?",
                             (body["best"]["id"],))  # fmt: skip
    upload = s_upload(stack, mia)
    ada = stack.session("ada")
    ada.post(f"{stack.url}/accounts/teams/{team}/invite/", data={"role": "viewer", "days": 1})
    ((invitation,),) = stack.sql("SELECT max(id) FROM accounts_invitation")
    stack.manage("shell", "-c", NOTICES)
    notices = dict(stack.sql("SELECT channel, id FROM notifications_subscription"))
    ids = {"experiment": exp["id"], "individual": body["best"]["id"], "team": team,
           "team_id": team, "webhook": notices["webhook"], "webhook_id": notices["webhook"],
           "subscription_id": notices["email"], "user_id": tess, "number": number, "action": "stop",
           "invitation_id": invitation, "dataset": upload["id"]}  # fmt: skip
    routes = [(concrete(r, ids), name) for r, name in walk(get_resolver().url_patterns)]
    routes = [(url, name) for url, name in routes if not url.startswith("/admin/")]
    return stack, ids, routes


def s_upload(stack, mia) -> dict:
    """Team Vision's uploaded dataset, indexed by a real worker: a zip of two class folders."""
    import io
    import zipfile

    from PIL import Image

    from .harness import wait_for

    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as zf:
        for cls, colour in (("cat", "red"), ("dog", "blue")):
            for i in range(5):
                image = io.BytesIO()
                Image.new("RGB", (8, 8), colour).save(image, "PNG")
                zf.writestr(f"{cls}/{i}.png", image.getvalue())
    files = {"file": ("secret-vision-set.zip", blob.getvalue())}
    r = mia.post(f"{stack.url}/api/datasets/", data={"name": "secret-vision-set"}, files=files,
                 timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    url = f"{stack.url}/api/datasets/{r.json()['id']}/"

    def ready():
        body = mia.get(url, timeout=10).json()
        assert body["state"] != "failed", body
        return body if body["state"] == "ready" else None

    return wait_for(ready, 120, "the upload to be indexed", 0.5)


def send(stack, session, method: str, url: str):
    return session.request(method, stack.url + url, timeout=120, allow_redirects=False)


def test_anonymous_users_are_refused_everywhere_but_the_public_pages(world):
    import requests

    stack, _, routes = world
    anon = requests.Session()
    for url, name in routes:
        if name in PUBLIC:
            continue
        for method in ("GET", "POST", "PATCH", "DELETE"):
            r = send(stack, anon, method, url)
            to_login = r.status_code == 302 and "/accounts/login/" in r.headers["Location"]
            assert to_login or r.status_code in REFUSED_ANON, (method, url, r.status_code)


@pytest.mark.parametrize("username", ["olga", "omar", "oscar"])
def test_another_teams_users_get_404_for_every_object_and_see_nothing(world, username):
    stack, ids, routes = world
    s = stack.session(username)
    for url, name in routes:
        if name in PUBLIC:
            continue
        has_object = bool(re.search(r"/\d+(/|\.json|$)", url))
        for method in ("GET", "POST", "PATCH", "DELETE"):
            r = send(stack, s, method, url)
            assert r.status_code < 500, (method, url, r.text[:300])
            if has_object:  # 405 (a method the route lacks) is the same for any id
                assert r.status_code in (404, 405), (username, method, url, r.status_code)
            else:
                assert "secret-vision-run" not in r.text, (username, method, url)
                assert "secret-vision-set" not in r.text, (username, method, url)


def allowed(r) -> bool:
    return r.status_code not in (401, 403, 404) and r.status_code < 500


@pytest.mark.parametrize("username,role", [("vic", "viewer"), ("mia", "member"), ("ada", "admin")])
def test_each_role_of_the_team_gets_exactly_what_it_allows(world, username, role):
    stack, _, routes = world
    s = stack.session(username)
    for url, name in routes:
        if name in PUBLIC or name == "token-revoke":
            continue
        if name in MEMBER_POSTS | ADMIN_POSTS:
            if name in ("member-remove", "team-webhook-delete") and role == "admin":
                continue  # removing tess would change the world for later checks
            needs = "admin" if name in ADMIN_POSTS else "member"
            may = {"viewer": 0, "member": 1, "admin": 2}[role] >= {"member": 1, "admin": 2}[needs]
            r = send(stack, s, "POST", url)
            assert allowed(r) == may, (username, url, r.status_code)
        elif name in ADMIN_GETS:
            r = send(stack, s, "GET", url)
            assert allowed(r) == (role == "admin"), (username, url, r.status_code)
        elif name and not name.startswith("api-") or name in ("api-root",):
            r = send(stack, s, "GET", url)
            assert r.status_code < 500 and r.status_code not in (401, 403), (username, url)
        else:
            r = send(stack, s, "GET", url)
            assert allowed(r) or r.status_code == 405, (username, url, r.status_code)


async def refused(url: str, headers: dict) -> bool:
    try:
        async with ws_connect(url, additional_headers=headers) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except (websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed):
        return True
    except TimeoutError:  # accepted, but silent: not a refusal
        return False
    return False


def ws_urls(stack, ids, with_object: bool) -> list[str]:
    paths = [str(p.pattern) for p in websocket_urlpatterns]
    paths = [
        p.replace("<int:pk>", str(ids["experiment"])) for p in paths if ("<" in p) == with_object
    ]
    return [f"ws://127.0.0.1:{stack.port}/{path}?after=0" for path in paths]


@pytest.mark.parametrize("username,refuse", [("olga", True), ("omar", True), ("vic", False)])
def test_experiment_websockets_admit_only_the_team(world, username, refuse):
    stack, ids, _ = world
    s = stack.session(username)
    headers = {"Cookie": f"sessionid={s.cookies['sessionid']}", "Origin": stack.url}
    for url in ws_urls(stack, ids, with_object=True):
        assert run_async(refused(url, headers)) == refuse, (username, url)


def test_every_websocket_refuses_anonymous_users(world):
    stack, ids, _ = world
    for url in ws_urls(stack, ids, True) + ws_urls(stack, ids, False):
        assert run_async(refused(url, {"Origin": stack.url})), url


@pytest.mark.parametrize("username", ["olga", "omar", "oscar"])
def test_another_teams_upload_is_invisible_and_unusable(world, username):
    stack, ids, _ = world
    s = stack.session(username)
    url = f"{stack.url}/api/datasets/{ids['dataset']}/"
    for method in ("GET", "PATCH", "DELETE"):
        assert s.request(method, url, json={"name": "x"}, timeout=30).status_code == 404
    config = {**CONFIG, "dataset": f"upload:{ids['dataset']}"}
    r = s.post(f"{stack.url}/api/experiments/", json={"name": "steal", "config": config},
               timeout=30)  # fmt: skip
    assert r.status_code in (400, 403) and "secret-vision-set" not in r.text, r.text
    if r.status_code == 400 and "team" not in r.json():  # olga: in several teams, none named
        assert "Unknown dataset" in r.text


@pytest.mark.parametrize("username,code", [("olga", 404), ("omar", 404), (None, 401)])
def test_the_reports_pdf_is_the_teams_only(world, username, code):
    """The report's formats (the routes above cover /experiments/<id>/report.pdf): the API's
    ?format=pdf is a 404 for another team, as for no run, and a 401 logged out."""
    import requests

    stack, ids, _ = world
    s = stack.session(username) if username else requests.Session()
    for run in (ids["experiment"], ids["experiment"] + 10_000):
        r = s.get(f"{stack.url}/api/experiments/{run}/report/?format=pdf", timeout=60)
        assert r.status_code == code and b"%PDF" not in r.content, (username, r.status_code)
    own = stack.session("vic").get(f"{stack.url}/experiments/{ids['experiment']}/report.pdf",
                                   timeout=120)  # fmt: skip
    assert own.status_code == 200 and own.content.startswith(b"%PDF-")


@pytest.mark.parametrize("username", ["omar", "oscar"])
def test_another_teams_run_cannot_seed_a_run(world, username):
    """A warm start from another team's run is a 404 like one from no run, creating nothing."""
    stack, ids, _ = world
    s = stack.session(username)
    answers = []
    for source in (ids["experiment"], ids["experiment"] + 10_000):
        body = {"name": "steal-seeds", "config": CONFIG, "start_from": {"experiment": source}}
        r = s.post(f"{stack.url}/api/experiments/", json=body, timeout=30)
        assert r.status_code == 404 and "secret-vision" not in r.text, r.text
        answers.append(r.json()["detail"].replace(str(source), "N"))
    assert answers[0] == answers[1]
    assert stack.sql("SELECT id FROM experiments_experiment WHERE name = 'steal-seeds'") == []


@pytest.mark.parametrize("username,code", [("vic", 403), ("mia", 403)])
def test_only_the_teams_admins_rename_and_delete_an_upload(world, username, code):
    stack, ids, _ = world
    s = stack.session(username)
    url = f"{stack.url}/api/datasets/{ids['dataset']}/"
    assert s.get(url, timeout=30).status_code == 200
    for method in ("PATCH", "DELETE"):
        assert s.request(method, url, json={"name": "x"}, timeout=30).status_code == code


@pytest.mark.parametrize(
    "username,code", [("vic", 403), ("olga", 404), ("omar", 404), ("oscar", 404), (None, 401)]
)
def test_a_refused_evaluate_changes_nothing(world, username, code):
    import requests

    stack, ids, _ = world
    s = stack.session(username) if username else requests.Session()
    query = ("SELECT last_seq, evaluating_since, test_accuracy FROM experiments_experiment "
             "WHERE id = ?")  # fmt: skip
    before = stack.sql(query, (ids["experiment"],))
    r = s.post(f"{stack.url}/api/experiments/{ids['experiment']}/evaluate/", timeout=30)
    assert r.status_code == code and "detail" in r.json(), (username, r.status_code)
    assert stack.sql(query, (ids["experiment"],)) == before


def run_fields(stack, session, exp_id: int) -> tuple:
    body = session.get(f"{stack.url}/api/experiments/{exp_id}/", timeout=30).json()
    return body["name"], body["notes"], body["tags"], body["archived"], body["config"]


def test_only_the_teams_members_and_admins_edit_and_delete_a_run(world):
    """PATCH and DELETE /api/experiments/<id>/: another team's run and a run that does not
    exist answer alike (404), a viewer gets 403, and nothing changes for any of them; a
    member and an admin may, with a session or a token."""
    import requests

    stack, ids, _ = world
    mia = stack.session("mia")
    url = f"{stack.url}/api/experiments/{ids['experiment']}/"
    before = run_fields(stack, mia, ids["experiment"])
    edit = {"name": "stolen", "tags": ["x"], "archived": True}
    for method in ("PATCH", "DELETE"):
        assert requests.request(method, url, json=edit, timeout=30).status_code in (401, 403)
        for username in ("olga", "omar", "oscar"):
            s = stack.session(username)
            theirs = s.request(method, url, json=edit, timeout=30)
            nobodys = s.request(method, f"{stack.url}/api/experiments/98765432/", json=edit,
                                timeout=30)  # fmt: skip
            assert theirs.status_code == nobodys.status_code == 404, (username, method)
            assert theirs.json() == nobodys.json()
        for username in ("vic", "tess"):
            r = stack.session(username).request(method, url, json=edit, timeout=30)
            assert r.status_code == 403, (username, method)
    assert run_fields(stack, mia, ids["experiment"]) == before

    ada = stack.session("ada")
    r = ada.patch(url, json={"tags": ["Checked"], "notes": "by ada"}, timeout=30)
    assert r.status_code == 200 and r.json()["tags"] == ["checked"]
    r = mia.patch(url, json={"tags": before[2], "notes": before[1]}, timeout=30)
    assert r.status_code == 200 and run_fields(stack, mia, ids["experiment"]) == before
    r = mia.patch(url, json={"config": {"seed": 9}}, timeout=30)
    assert r.status_code == 409 and run_fields(stack, mia, ids["experiment"]) == before

    token = {"Authorization": f"Token {stack.manage('apitoken', 'mia').strip()}"}
    config = {**CONFIG, "max_individuals": 3}
    for deleter in ("mia", "ada"):
        made = requests.post(f"{stack.url}/api/experiments/", headers=token, timeout=30,
                             json={"name": "to delete", "config": config}).json()  # fmt: skip
        one = f"{stack.url}/api/experiments/{made['id']}/"
        if deleter == "mia":
            r = requests.patch(one, headers=token, json={"config": {"seed": 2}}, timeout=30)
            assert r.status_code == 200 and r.json()["config"]["seed"] == 2
            r = requests.delete(one, headers=token, timeout=30)
        else:
            r = ada.delete(one, timeout=30)
        assert r.status_code == 204, (deleter, r.text)
        assert mia.get(one, timeout=30).status_code == 404


def test_the_workers_page_names_a_teams_child_to_that_team_only(world):
    """Real worker processes report themselves; one trains a child of Team Vision's run: its
    team sees the run and the child, everyone else the process as busy and nothing more."""
    from .harness import wait_for

    stack, _, _ = world
    mia = stack.session("mia")
    slow = {**CONFIG, "population": 2, "steps_per_child": 5_000, "max_individuals": 6}
    exp = stack.create(mia, slow, name="secret-vision-slow")

    def training():
        body = mia.get(f"{stack.url}/experiments/workers.json", timeout=10).json()
        rows = [p for p in body["processes"] if p["state"] == "training"]
        return rows if any(p["child"]["experiment"] == exp["id"] for p in rows) else None

    try:
        (ours,) = [p for p in wait_for(training, 60, "a worker to train it", 0.5)
                   if p["child"]["experiment"] == exp["id"]]  # fmt: skip
        assert ours["child"]["experiment_name"] == "secret-vision-slow" and ours["host"]
        assert ours["device"].startswith("CPU") and ours["rss_bytes"] > 0
        for username in ("olga", "omar", "oscar"):
            other = stack.session(username)

            def seen_busy(other=other, username=username):  # between two children: look again
                r = other.get(f"{stack.url}/experiments/workers.json", timeout=10)
                assert "secret-vision" not in r.text and f'"experiment": {exp["id"]}' not in r.text
                row = {p["name"]: p for p in r.json()["processes"]}[ours["name"]]
                assert row["state"] in ("busy", "idle") and row["child"] is None, (username, row)
                return row["state"] == "busy"

            wait_for(seen_busy, 30, f"{username} to see the process busy", 0.2)
    finally:
        mia.post(f"{stack.url}/api/experiments/{exp['id']}/stop/", timeout=30)


def test_only_the_teams_members_and_admins_edit_a_queued_runs_settings(world):
    """The Edit settings page (GET and POST) and PATCH with a config, on a run that has not
    started (so no 409 hides a refusal): another team's users get the 404 of no run, the
    team's viewers a 403, a logged-out user the login (page) or a 401/403 (JSON); nothing
    changes for any of them. A member may."""
    import requests

    stack, _, _ = world
    mia = stack.session("mia")
    r = mia.post(f"{stack.url}/api/experiments/", json={"name": "draft", "config": CONFIG},
                 timeout=30)  # fmt: skip
    draft = r.json()["id"]
    page = f"{stack.url}/experiments/{draft}/settings/"
    api = f"{stack.url}/api/experiments/{draft}/"
    form = {
        "name": "stolen",
        "dataset": "digits",
        "population": "3",
        "max_individuals": "4",
        "selection": "tournament",
    }
    before = run_fields(stack, mia, draft)
    try:
        for username, code in [("olga", 404), ("omar", 404), ("oscar", 404), ("vic", 403),
                               ("tess", 403), (None, None)]:  # fmt: skip
            s = stack.session(username) if username else requests.Session()
            answers = [s.get(page, timeout=30, allow_redirects=False),
                       s.post(page, data=form, timeout=30, allow_redirects=False)]  # fmt: skip
            patched = s.patch(api, json={"config": {"seed": 11}}, timeout=30)
            if username is None:  # its POST has no CSRF token either: a 403 before the login
                assert answers[0].status_code == 302
                assert "/accounts/login/" in answers[0].headers["Location"]
                assert answers[1].status_code in (302, 403)
                assert patched.status_code in (401, 403) and "detail" in patched.json()
            else:
                assert [r.status_code for r in answers] == [code, code], username
                assert patched.status_code == code, username
        assert run_fields(stack, mia, draft) == before
        assert mia.get(page, timeout=30).status_code == 200
        r = mia.post(page, data={**form, "name": "draft b"}, timeout=30, allow_redirects=False)
        assert r.status_code == 302, r.text[-1500:]
        assert run_fields(stack, mia, draft)[0] == "draft b"
    finally:
        mia.delete(api, timeout=30)
