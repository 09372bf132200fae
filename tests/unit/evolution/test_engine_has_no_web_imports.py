"""The algorithm knows nothing of the web (tests/unit/test_import_contract.py checks the rest)."""

import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[3] / "evolab" / "evolution"
IMPORT = re.compile(r"^\s*(from|import)\s+(django|celery|workers)\b", re.MULTILINE)


def test_the_engine_imports_neither_django_nor_celery():
    files = sorted(ENGINE.glob("*.py"))
    assert len(files) >= 7
    hits = [
        f"{f.name}: {m.group(0).strip()}" for f in files for m in IMPORT.finditer(f.read_text())
    ]
    assert hits == []


def test_the_import_check_would_catch_a_hit():
    assert IMPORT.search("import os\nfrom django.db import models\n")
    assert IMPORT.search("    import celery\n")
