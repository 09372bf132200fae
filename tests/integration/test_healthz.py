import pytest
import requests

pytestmark = pytest.mark.integration


def test_healthz_reports_database_redis_and_live_workers(stack):
    r = requests.get(f"{stack.url}/healthz", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok", "workers": 1}
