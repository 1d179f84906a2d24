"""The redemption lane: plain redemptions decided before routing.

When a thousand citizens race for the last units of one incentive, each request paid the
route: routing, dependency solving, body validation, two store round trips (authentication,
then the sold-out marker), the response model. That was most of the worker CPU an answer
cost in the benchmark's hot incentive, ten times a bare request. Here a request costs the
token's signature (cached), one store round trip, its part of a group's unit of work and the
answer.

For ``POST /v1/redemptions`` with a bearer token, a small JSON body naming the incentive and
an Idempotency-Key, exactly what the route accepts without a word, the lane waits at the
incentive's gate (in arrival order, so the first arrivals reach the stock first), then asks
the store in one script whether the citizen's token stands (not revoked, within the rate
limit, which counts the request) and whether the incentive's sold-out marker refuses them
(``sold_out.admit``). A refused citizen is answered 409 ``out_of_stock``; any other is decided
with the other requests waiting in this worker (``redemption_groups``), and answered exactly
as the route answers: 201 or 200 with the redemption, or the request's own problem. Anything
else (a token that does not stand, a store that does not answer, a request the route would
refuse as malformed, another role) goes on to the route unchanged, which checks, decides and
answers it. Without a store the lane steps aside.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.errors import DomainError
from app.kit.inputs import unstorable
from app.kit.problems import domain_response
from app.kv import ADMIT_NOT, ADMIT_REFUSE
from app.models.identity import Role
from app.schemas.rewards import RedemptionOut
from app.security import decode_checked
from app.services.rewards import redemption_views, redemptions, sold_out
from app.services.rewards.errors import OutOfStock
from app.services.rewards.gates import REDEMPTIONS

PATH = "/v1/redemptions"
_READ = frozenset({b"authorization", b"idempotency-key", b"content-type", b"content-length"})
MAX_BODY = 1024  # the body is {"incentive_id": "…"}; anything larger goes the ordinary way


class RedemptionLane:
    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self.gates = REDEMPTIONS
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or getattr(self.api.state, "kv", None) is None
        ):
            await self.app(scope, receive, send)
            return
        plain = _plain_request(scope)
        if plain is None:
            await self.app(scope, receive, send)
            return
        token, key = plain
        body, messages = await _read_body(receive)
        incentive_id = _incentive_id(body)
        state = self.api.state
        claims = None
        if incentive_id is not None:
            try:
                claims = decode_checked(state.settings, token, "access")
            except DomainError:
                claims = None
        if claims is None or claims.role != Role.CITIZEN or incentive_id is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        async with self.gates.hold(incentive_id):
            verdict, seen = await sold_out.admit(state.kv, state.settings, claims, incentive_id)
            if verdict == ADMIT_NOT:
                await self.app(scope, _replay(messages, receive), send)
                return
            response: Response
            try:
                if verdict == ADMIT_REFUSE:
                    raise OutOfStock("This incentive is out of stock.")
                issued = await state.redemption_groups.submit(claims.sub, incentive_id, key, seen)
            except DomainError as refused:
                response = domain_response(refused)
            else:
                response = _answer(state.settings.jwt_key, issued)
        scope.setdefault("state", {})["user_id"] = claims.sub
        scope["route"] = self._redeem_route()
        await response(scope, _replay(messages, receive), send)

    def _redeem_route(self) -> Any:
        """The route the lane answers for, named in the access log and the metrics."""
        if self._route is None:
            for route in self.api.routes:
                if getattr(route, "path", None) == PATH and "POST" in getattr(route, "methods", ()):
                    self._route = route
                    break
        return self._route


def _answer(secret: str, issued: redemptions.Issued) -> Response:
    """The route's answer to a redemption: its response model, as FastAPI renders it."""
    view = RedemptionOut.model_validate(redemption_views.issued_view(secret, issued))
    return Response(
        view.model_dump_json(),
        status_code=201 if issued.created else 200,
        media_type="application/json",
    )


def _plain_request(scope: Scope) -> tuple[str, str] | None:
    """The bearer token and the Idempotency-Key, when the request's headers are what the
    route accepts without a word: a JSON body of known small size, no query, storable text."""
    if scope.get("query_string"):
        return None
    token = key = content_type = None
    length = -1
    named: set[bytes] = set()
    for raw_name, raw_value in scope["headers"]:
        value = raw_value.decode("latin-1")
        if unstorable(value):
            return None
        if raw_name in _READ:
            if raw_name in named:  # said twice: the route decides which one counts
                return None
            named.add(raw_name)
        if raw_name == b"authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return None
        elif raw_name == b"idempotency-key":
            key = value
        elif raw_name == b"content-type":
            content_type = value.split(";")[0].strip().lower()
        elif raw_name == b"content-length":
            length = int(value) if value.isdigit() else -1
    if token is None or key is None or not 1 <= len(key) <= 200:
        return None
    if content_type != "application/json" or not 0 < length <= MAX_BODY:
        return None
    return token, key


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False) or size > MAX_BODY:
            break
    return b"".join(chunks), messages


def _incentive_id(body: bytes) -> str | None:
    """The incentive, when the body is exactly what the route's schema accepts."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict) or len(parsed) != 1:
        return None
    incentive_id = parsed.get("incentive_id")
    if not isinstance(incentive_id, str) or not 1 <= len(incentive_id) <= 36:
        return None
    return None if unstorable(incentive_id) else incentive_id


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` for the next application: the messages already read, then the rest."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
