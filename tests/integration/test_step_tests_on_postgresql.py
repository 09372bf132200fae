"""The unit tests of the step (claim, drafted apply, commit, fencing, the in-process loop)
again on PostgreSQL, where the drafted apply is the server-side evolab_birth (migration 0003)
and a commit is one statement, the URL tests, where a NUL character reaching a query is
an error SQLite does not raise, and a run's deletion (its rows in a few statements, then its
files): the unit suite itself runs on SQLite."""

import os
import subprocess
import sys
import uuid

import pytest

from .harness import ROOT

pytestmark = pytest.mark.integration

MODULES = [
    "tests/unit/web/test_drafted_claims.py",
    "tests/unit/web/test_fencing_and_poison_children.py",
    "tests/unit/web/test_step_loop_in_process.py",
    "tests/unit/api/test_urls_no_column_can_hold.py",
    "tests/unit/api/test_run_deletion.py",
]


def test_the_step_tests_pass_on_postgresql():
    # pytest-django creates (and drops) test_<name> on the machine's PostgreSQL.
    name = f"evolab_steps_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}
    env.pop("REDIS_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MODULES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "deselected" not in summary
