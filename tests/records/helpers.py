"""Steps for record tests: post records, sign partner requests."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from app.services.partners.keys import sign
from tests.helpers import Actor


def ago(**kw) -> str:
    return (datetime.now(UTC) - timedelta(**kw)).isoformat()


def event(type_: str, data: dict, *, at: str | None = None, cid: str | None = None) -> dict:
    return {
        "client_event_id": cid or uuid.uuid4().hex,
        "type": type_,
        "occurred_at": at or ago(hours=1),
        "data": data,
    }


async def post(actor: Actor, type_: str, data: dict, **kw) -> httpx.Response:
    return await actor.post("/v1/events", json=event(type_, data, **kw))


async def signed_post(
    client: httpx.AsyncClient,
    key_id: str,
    secret: str,
    body: dict,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    tamper: bool = False,
    path: str = "/v1/partner/events",
) -> httpx.Response:
    raw = json.dumps(body).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(12)
    signature = sign(secret, ts, nonce, raw)
    if tamper:
        raw = raw.replace(b"}", b" }", 1)
    return await client.post(
        path,
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Partner-Key": key_id,
            "X-Timestamp": ts,
            "X-Nonce": nonce,
            "X-Signature": signature,
        },
    )
