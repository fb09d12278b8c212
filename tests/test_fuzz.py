"""Fuzz every endpoint from the service's own OpenAPI document: no 5xx, and every answer as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

EXAMPLES = 40  # per operation: enough to try odd bodies and queries, quick enough for every run
CONFIG = {
    "generation": {"max-examples": EXAMPLES},
    "checks": {
        # The schema cannot say "a picture of a digit": schema-valid bytes may be no image, or a blank one.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "415", "422"]},
        # Too many form parts is refused as too large.
        "negative_data_rejection": {"expected-statuses": ["400", "405", "413", "415", "422"]},
    },
}


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_request_as_documented(case):
    case.call_and_validate()  # all of schemathesis' checks, not_a_server_error among them
