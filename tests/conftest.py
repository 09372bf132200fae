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


WS_RUN_CONFIG = {"dataset": "digits", "population": 3, "workers": 1, "steps_per_child": 5,
                 "max_individuals": 6, "seed": 2}  # fmt: skip


@pytest.fixture(scope="session")
def finished_run(stack):
    """One finished run of mia's team per stack, for the websocket tests: (stack, mia, id)."""
    s = stack.session("mia")
    exp = stack.create(s, WS_RUN_CONFIG, name="ws")
    stack.wait_status(s, exp["id"], ("finished",), timeout=120)
    return stack, s, exp["id"]
