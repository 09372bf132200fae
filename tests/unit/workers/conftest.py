"""Fixtures shared by the worker-side tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_dataset_cache():
    from evolab.datasets import clear_cache

    clear_cache()
    yield
    clear_cache()
