"""Small helpers that read like the steps a user takes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from app.db import session_scope
from app.services.identity.users import create_user

PASSWORD = "Green-Commute-2026"


@dataclass
class Actor:
    client: httpx.AsyncClient
    id: str
    email: str
    token: str
    refresh_token: str
    role: str
    merchant_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    async def get(self, url: str, **kw) -> httpx.Response:
        return await self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def post(self, url: str, **kw) -> httpx.Response:
        return await self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def patch(self, url: str, **kw) -> httpx.Response:
        return await self.client.patch(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    async def delete(self, url: str, **kw) -> httpx.Response:
        return await self.client.delete(
            url, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.cn"


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": email, "password": password})


async def _actor(
    client: httpx.AsyncClient, user_id: str, email: str, role: str, merchant_id: str | None = None
) -> Actor:
    r = await login(client, email)
    assert r.status_code == 200, r.text
    body = r.json()
    return Actor(
        client,
        user_id,
        email,
        body["access_token"],
        body["refresh_token"],
        role,
        merchant_id,
        {"Authorization": f"Bearer {body['access_token']}"},
    )


async def citizen(client: httpx.AsyncClient, region: str | None = None) -> Actor:
    email = unique_email("citizen")
    payload = {"email": email, "password": PASSWORD, "display_name": "Citizen"}
    if region:
        payload["region"] = region
    r = await client.post("/v1/auth/register", json=payload)
    assert r.status_code == 201, r.text
    return await _actor(client, r.json()["id"], email, "citizen")


async def user_with_role(
    app: FastAPI,
    client: httpx.AsyncClient,
    role: str,
    merchant_id: str | None = None,
    region: str | None = None,
) -> Actor:
    email = unique_email(role)
    async with session_scope(app.state.sessionmaker) as session:
        user = await create_user(
            session,
            email=email,
            password=PASSWORD,
            role=role,
            merchant_id=merchant_id,
            region=region,
        )
        user_id = user.id
    return await _actor(client, user_id, email, role, merchant_id)


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    for key in ("type", "title", "status", "detail", "code"):
        assert key in body, body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body
