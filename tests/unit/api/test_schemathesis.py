"""Schemathesis against /api/schema/: no generated request makes the API answer 500.

In process (WSGI), as a team member with an API token, with a bounded number of examples
per operation. Runs started here never reach a worker: the test's transaction is never
committed, so the queueing done on commit does not happen.
"""

import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings

from evolab.accounts.services import create_token

from .conftest import store_individual

EXAMPLES_PER_OPERATION = 15


def fuzz(operation, headers: dict, real_ids: dict, failures: list) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        calls = [dict(case.path_parameters or {})]
        if "id" in calls[0]:  # random ids are 404s: also send each input to a real object
            calls.append({**calls[0], "id": real_ids[operation.path.split("/")[2]]})
        for path_parameters in calls:
            case.path_parameters = path_parameters
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query}: {response.text}"
                )

    run()


def test_no_generated_request_is_a_server_error(member, exp):
    ind = store_individual(exp, 0)  # something to find, list and download
    real_ids = {"experiments": exp.pk, "individuals": ind.pk, "teams": exp.team_id}
    headers = {"Authorization": f"Token {create_token(member, 'schemathesis')[1]}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    for operation in operations:
        fuzz(operation, headers, real_ids, failures)
    assert not failures, "\n".join(failures[:10])
