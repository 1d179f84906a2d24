"""Property-based fuzzing of the whole API from its own OpenAPI document.

A real server on SQLite; every operation is called with generated requests, valid and
invalid ones (schemathesis generates both), as a citizen and as an administrator. Nothing may
answer 5xx, every response must match the document (status, content type and body), and a
request that breaks the document must be refused with a 4xx.

Each operation is its own test item, so xdist spreads them over its workers; each worker
starts one server for the items it gets. The document is read from the application at
collection time, and the server must serve the very same one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from http.cookiejar import DefaultCookiePolicy

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import TEST_HASH_COST, TEST_SECRET
from tests.production.server import base_env, create_user, serve, token

MAX_EXAMPLES = int(os.environ.get("TANHUI_FUZZ_EXAMPLES", "12"))
PASSWORD = f"Fuzz-{uuid.uuid4().hex}"

# Building the application reads no database: only its routes make the document.
DOCUMENT = create_app(
    Settings(  # type: ignore[call-arg]
        env="test",
        database_url="sqlite+aiosqlite:///:memory:",
        jwt_secret=TEST_SECRET,
        **TEST_HASH_COST,
    )
).openapi()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One server per xdist worker, shared by the operations that worker runs: its base URL
    and the emails of an administrator and a citizen.

    Their password is none of the document's examples: an example body sent to
    ``DELETE /v1/me`` or ``POST /v1/me/password`` would otherwise erase the citizen."""
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url)
    env = base_env(url)
    suffix = uuid.uuid4().hex[:8]
    create_user(env, f"fuzz-admin-{suffix}@example.cn", "admin", PASSWORD)
    create_user(env, f"fuzz-citizen-{suffix}@example.cn", "citizen", PASSWORD, region="CN-SX")
    with serve(env) as (base_url, _):
        served = httpx.get(f"{base_url}/openapi.json").json()
        assert served == DOCUMENT, "the server's document differs from the one fuzzed"
        yield (
            base_url,
            {
                "admin": f"fuzz-admin-{suffix}@example.cn",
                "citizen": f"fuzz-citizen-{suffix}@example.cn",
            },
        )


@pytest.fixture
def tokens(server) -> dict[str, str]:
    """Fresh tokens for each operation: ``POST /v1/auth/logout-all`` voids the ones issued
    before it, and no operation should run signed out because another one ran first."""
    base_url, emails = server
    return {role: token(base_url, email, PASSWORD) for role, email in emails.items()}


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """One HTTP session for every request of the worker: connections are kept alive, no
    cookie is kept (each request carries only the token it is given), and the environment's
    proxy settings are not read again for every request."""
    with requests.Session() as session:
        session.trust_env = False
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        yield session


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the document but logging out, which would revoke
    the tokens that the rest of the run uses."""
    return [
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"} and path != "/v1/auth/logout"
    ]


@pytest.fixture
def operation_schema(request: pytest.FixtureRequest) -> schemathesis.BaseSchema:
    """The document with one operation: each item builds the cases of its own operation when it
    runs, in whichever worker runs it. Built for the whole document at collection, every
    worker would make every operation's coverage cases, most of them for items it never runs."""
    method, path = request.param
    item = DOCUMENT["paths"][path]
    one = {key: value for key, value in item.items() if key in (method.lower(), "parameters")}
    return schemathesis.openapi.from_dict({**DOCUMENT, "paths": {path: one}})


schema = schemathesis.pytest.from_fixture("operation_schema")


@pytest.mark.parametrize(
    "operation_schema", _operations(), indirect=True, ids=lambda op: " ".join(op)
)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@schema.parametrize()
def test_no_server_errors_and_responses_match_the_document(case, server, tokens, http):
    base_url, _ = server
    for role in ("citizen", "admin"):
        case.call_and_validate(
            base_url=base_url,
            session=http,
            headers={"Authorization": f"Bearer {tokens[role]}"},
            checks=[
                not_a_server_error,
                response_schema_conformance,
                content_type_conformance,
                negative_data_rejection,
            ],
        )
