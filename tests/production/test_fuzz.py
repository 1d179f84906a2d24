"""Property-based fuzzing of the whole API from its own OpenAPI document.

A real server on SQLite; every operation is called with generated requests, valid and
invalid ones (schemathesis generates both), as a citizen and as an administrator. Nothing may
answer 5xx, every response must match the document (status, content type and body), and a
request that breaks the document must be refused with a 4xx.
"""

from __future__ import annotations

import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from app.migrate import upgrade
from tests.production.server import base_env, create_user, serve, token

# One server per module: keep the module on one xdist worker (make test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("fuzz")

MAX_EXAMPLES = int(os.environ.get("TANHUI_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url)
    env = base_env(url)
    suffix = uuid.uuid4().hex[:8]
    create_user(env, f"fuzz-admin-{suffix}@example.cn", "admin")
    create_user(env, f"fuzz-citizen-{suffix}@example.cn", "citizen", region="CN-SX")
    with serve(env) as (base_url, _):
        yield (
            base_url,
            {
                "admin": token(base_url, f"fuzz-admin-{suffix}@example.cn"),
                "citizen": token(base_url, f"fuzz-citizen-{suffix}@example.cn"),
            },
        )


@pytest.fixture(scope="module")
def api_schema(server):
    base_url, _ = server
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


# Logging out would revoke the tokens that the rest of the run uses.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/auth/logout")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_the_document(case, server):
    base_url, tokens = server
    for role in ("citizen", "admin"):
        case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {tokens[role]}"},
            checks=[
                not_a_server_error,
                response_schema_conformance,
                content_type_conformance,
                negative_data_rejection,
            ],
        )
