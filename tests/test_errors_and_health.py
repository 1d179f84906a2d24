from __future__ import annotations

import pytest

import app.main  # noqa: F401  (imports every router, so every error class exists)
from app.kit.errors import CATALOGUE, Conflict, Forbidden
from app.kit.problems import problem_codes
from app.services.rewards.errors import OutOfStock
from tests.helpers import assert_problem


async def test_health_ready_and_metrics(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    await client.get("/v1/nowhere")
    metrics = (await client.get("/metrics")).text
    assert "tanhui_http_requests_total" in metrics
    assert 'route="/healthz"' in metrics


async def test_readyz_is_503_when_the_database_is_gone(client, app, backend):
    await app.state.engine.dispose()
    original = app.state.engine
    from app.db import make_engine

    bad = (
        "sqlite+aiosqlite:////nonexistent-dir/x.db"
        if backend.name == "sqlite"
        else "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    )
    app.state.engine = make_engine(bad)
    try:
        body = assert_problem(await client.get("/readyz"), 503, "unavailable")
        assert body["checks"]["database"] == "unreachable"
    finally:
        await app.state.engine.dispose()
        app.state.engine = original


async def test_unknown_route_and_wrong_method_are_problems(client):
    assert_problem(await client.get("/v1/does-not-exist"), 404, "not_found")
    assert_problem(await client.get("/v1/auth/register"), 405, "method_not_allowed")


async def test_malformed_json_is_400_problem(client):
    r = await client.post(
        "/v1/auth/register", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 400, "malformed_json")


async def test_request_id_is_echoed(client):
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_unexpected_errors_are_500_problems_without_internals(app, client):
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/boom-for-test")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(router)
    r = await client.get("/boom-for-test")
    body = assert_problem(r, 500, "internal_error")
    assert "secret" not in r.text and body["request_id"] == r.headers["x-request-id"]


async def test_openapi_lists_problem_schema(client):
    doc = (await client.get("/openapi.json")).json()
    assert "Problem" in doc["components"]["schemas"]
    assert "/v1/auth/register" in doc["paths"]


async def test_oversized_bodies_are_refused_before_parsing(client):
    big = b'{"email": "' + b"a" * 2_100_000 + b'"}'
    r = await client.post(
        "/v1/auth/register", content=big, headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")

    async def chunks():
        for _ in range(30):
            yield b"x" * 100_000

    r = await client.post(
        "/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 413, "payload_too_large")


def test_an_error_is_declared_in_one_line_and_its_code_names_one_class():
    assert (OutOfStock.status, OutOfStock.code, OutOfStock.title, OutOfStock.reason) == (
        409,
        "out_of_stock",
        "Out of stock",
        None,
    )
    assert CATALOGUE[("out_of_stock", None)] is OutOfStock
    assert CATALOGUE[("forbidden", "csrf_failed")].title == "Missing or wrong CSRF token"
    assert {"out_of_stock", "member_code_refused", "batch_final"} <= set(problem_codes())
    with pytest.raises(TypeError, match="repeats the code"):

        class _Again(Conflict, code="out_of_stock", title="Sold out"): ...

    with pytest.raises(ValueError, match="not a valid ProblemReason"):

        class _Unlisted(Forbidden, reason="no_such_reason"): ...

    with pytest.raises(TypeError, match="not an error status"):

        class _Fine(Conflict, status=200, code="fine"): ...
