import pytest

from .integration.harness import Stack

KINDS = ["postgres", "embedded"]


@pytest.fixture(scope="session", params=KINDS)
def stack(request, tmp_path_factory):
    """A running stack of real processes, shared by the tests of one kind."""
    s = Stack(request.param, tmp_path_factory.mktemp(request.param)).start(workers=1, concurrency=2)
    yield s
    s.stop()


@pytest.fixture
def mia(stack):
    return stack.session("mia")
