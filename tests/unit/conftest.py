"""Teams and users shared by the unit tests of the web side (pytest-django, SQLite)."""

import pytest
from django.contrib.auth.models import User

from evolab.accounts.models import Membership, Role, Team


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings, tmp_path):
    # Unit tests need no broker (integration tests use real Redis) and keep files in tmp.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def fresh_cache():
    # The sign-in throttle counts failures in the cache: no test inherits another's. Only
    # the local-memory cache (a Redis cache's clear() would flush the broker's database too).
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture
def eager(settings, tmp_path):
    """The Celery app runs tasks in place: the whole step loop in this process."""
    from workers.celery import app

    settings.MEDIA_ROOT = tmp_path
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def user_in(team: Team, name: str, role: str) -> User:
    user = User.objects.create_user(name, password=f"pw-{name}-12345", email=f"{name}@lab.test")
    Membership.objects.create(user=user, team=team, role=role)
    return user


@pytest.fixture
def team(db):
    return Team.objects.create(name="Vision")


@pytest.fixture
def member(team):
    return user_in(team, "mia", Role.MEMBER)


@pytest.fixture
def viewer(team):
    return user_in(team, "vic", Role.VIEWER)


@pytest.fixture
def admin(team):
    return user_in(team, "ada", Role.ADMIN)


@pytest.fixture
def other_team(db):
    return Team.objects.create(name="Other lab")


@pytest.fixture
def outsider(other_team):
    return user_in(other_team, "oscar", Role.ADMIN)
