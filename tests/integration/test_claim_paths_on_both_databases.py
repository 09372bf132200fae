"""The same drafted steps through both database paths: SQLite (portable.py) and PostgreSQL
(postgres.py, the server-side evolab_birth) leave the same rows and events, field by field
(tests/unit/engine/test_claim_paths_agree.py writes them out)."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from .harness import ROOT

pytestmark = pytest.mark.integration
MODULE = "tests/unit/engine/test_claim_paths_agree.py"


def _dump(tmp_path, database_url: str | None, name: str) -> dict:
    out = tmp_path / f"{name}.json"
    env = {**os.environ, "EVOLAB_PATHS_DUMP": str(out)}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", MODULE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    return json.loads(out.read_text())


def test_sqlite_and_postgresql_leave_the_same_rows_and_events(tmp_path):
    name = f"evolab_paths_{uuid.uuid4().hex[:8]}"
    sqlite = _dump(tmp_path, None, "sqlite")
    postgres = _dump(tmp_path, f"postgresql://postgres@127.0.0.1:5432/{name}", "postgres")
    assert sqlite["individuals"] == postgres["individuals"]
    assert sqlite["experiment"] == postgres["experiment"]
    for a, b in zip(sqlite["events"], postgres["events"], strict=True):
        assert a == b, (a, b)
