"""The OpenAPI document, made true for generators and linters.

FastAPI documents what it sees on each route; the rest is what the service does around the
routes, added here once for every operation, so a route added later gets it too:

- operationIds: the route function's name in camelCase (``post_record`` → ``postRecord``);
  a route whose function name would read badly or clash sets ``operation_id=`` itself.
- every error response is ``application/problem+json`` with the ``Problem`` schema, whose
  ``code`` and ``reason`` are enums. FastAPI's own 422 (``HTTPValidationError``) is replaced,
  as the service never sends it.
- the errors the plumbing can give: 400 ``malformed_json`` and 413 for operations with a
  body, 401 and 429 where a caller is identified (tokens, partner signatures, the sign-in
  limits), 503 where the database is read (it may be restarting), and a ``default`` problem.
- ``security`` on every operation: ``[]`` on public ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from app.kit.errors import REASON_DESCRIPTIONS, ProblemReason
from app.kit.problems import PROBLEM_JSON, FieldError, Problem, problem_body, problem_codes

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

TAGS: list[dict[str, str]] = [
    {
        "name": "auth",
        "description": "Registration, sign-in and sessions (access and refresh tokens).",
    },
    {
        "name": "me",
        "description": "The signed-in user's profile and personal data (PIPL): "
        "change, export, erase.",
    },
    {
        "name": "methodologies",
        "description": "The versioned methodologies that turn a "
        "behaviour record into grams of CO2e, with the JSON Schema of their data.",
    },
    {
        "name": "events",
        "description": "A citizen's behaviour records: post one or a batch, "
        "list them, read one with its calculation.",
    },
    {
        "name": "leaderboards",
        "description": "Citizens ranked by verified reduction, by day, week, month or in all.",
    },
    {
        "name": "account",
        "description": "The citizen's carbon account: balances, points about "
        "to expire, ledger lines and statistics.",
    },
    {
        "name": "incentives",
        "description": "The catalogue of incentives and a citizen's redemption codes.",
    },
    {
        "name": "merchant",
        "description": "Merchant staff: their incentives, and the till "
        "(look up and settle a redemption code).",
    },
    {
        "name": "partners",
        "description": "Data partners (signed requests) and citizens' links "
        "to their cards and meters.",
    },
    {
        "name": "admin",
        "description": "Administrators (and auditors, read-only): users, "
        "review, clawback, methodologies, partners, merchants, reports, the ledger check.",
    },
    {
        "name": "console",
        "description": "The operators' console: its cookie session (with a CSRF token) "
        "and its dashboard.",
    },
    {
        "name": "trust",
        "description": "For auditors: ledger hash checkpoints and export, the recompute audit, "
        "and verified-reduction batches with their serial numbers.",
    },
    {
        "name": "public",
        "description": "Open to anyone: look up a verified-reduction serial number.",
    },
    {
        "name": "organisations",
        "description": "Communities, parks, campuses, institutions and enterprises: "
        "membership, statistics and their leaderboard.",
    },
    {
        "name": "products",
        "description": "Carbon-labelled products, the citizen's member code and purchases "
        "posted at a till.",
    },
    {
        "name": "donations",
        "description": "Public-good projects and citizens' donations of points, with certificates.",
    },
    {"name": "health", "description": "Liveness, readiness and Prometheus metrics."},
]

SECURITY_SCHEMES: dict[str, Any] = {
    "PartnerSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Partner-Key",
        "description": "A data partner's key id, with `X-Timestamp` (unix seconds, within "
        "300 s), `X-Nonce` (8–128 characters, never reused) and `X-Signature`: hex "
        'HMAC-SHA256 of `timestamp + "\\n" + nonce + "\\n" + raw body` under the secret.',
    },
    "MetricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "TANHUI_METRICS_TOKEN, when the deployment sets one.",
    },
}

# Operations that answer 429 before (or without) a bearer token: the sign-in limits per
# address. Every operation with a token or a partner signature is rate-limited as well.
_LIMITED_WITHOUT_TOKEN = ("/v1/auth/",)
_PARTNER_PREFIX = "/v1/partner/"
_NO_DATABASE = ("/healthz", "/readyz", "/metrics")


def operation_id(route: APIRoute) -> str:
    """``post_record`` → ``postRecord``: FastAPI's ``generate_unique_id_function``."""
    head, *rest = route.name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _problem_response(description: str, *examples: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": PROBLEM_REF}
    if examples:
        media["examples"] = {(e.get("reason") or e["code"]): {"value": e} for e in examples}
    return {"description": description, "content": {PROBLEM_JSON: media}}


def _example(status: int, code: str, detail: str, title: str, **extra: Any) -> dict[str, Any]:
    return problem_body(status, code, detail, title, **extra)


_VALIDATION = _problem_response(
    "Validation failed: `errors` names each offending field",
    _example(
        422,
        "validation_error",
        "The request has invalid or missing fields.",
        "Validation failed",
        errors=[
            {
                "field": "body.occurred_at",
                "loc": ["body", "occurred_at"],
                "message": "Value error, must be an RFC 3339 date-time with an offset",
                "type": "value_error",
            }
        ],
    ),
)
_MALFORMED = _problem_response(
    "The body is not valid JSON",
    _example(400, "malformed_json", "The request body is not valid JSON.", "Malformed JSON"),
)
_TOO_LARGE = _problem_response(
    "The body is larger than the service accepts",
    _example(413, "payload_too_large", "The request body is too large.", "Content Too Large"),
)
_UNAUTHORIZED = _problem_response(
    "Not authenticated: `reason` says whether to refresh the token or sign in again",
    _example(
        401, "unauthorized", "The token has expired.", "Not authenticated", reason="token_expired"
    ),
)
_RATE_LIMITED = _problem_response(
    "Too many requests: wait `retry_after` seconds (also the Retry-After header)",
    _example(
        429,
        "rate_limited",
        "Too many requests; try again in 12 s.",
        "Too many requests",
        retry_after=12,
    ),
)
_UNAVAILABLE = _problem_response(
    "The database (or, for leaderboards, Redis) is unreachable for a moment: nothing was "
    "stored; retry the same request after Retry-After",
    _example(
        503,
        "unavailable",
        "The database is unreachable for a moment; retry the same request.",
        "Service unavailable",
        request_id="5b0e6c1f2a3d4e5f",
    ),
)
_DEFAULT = _problem_response(
    "Any other failure, as a problem (a 5xx is a bug: quote `request_id`)",
    _example(
        500,
        "internal_error",
        "An unexpected error occurred; it has been logged.",
        "Internal Server Error",
        request_id="5b0e6c1f2a3d4e5f",
    ),
)


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                yield path, method, operation


def _only_problems(responses: dict[str, Any]) -> None:
    """Every error response is problem+json: FastAPI's application/json goes."""
    for status, response in responses.items():
        if status == "default" or int(status) < 400:
            continue
        content = response.setdefault("content", {})
        media = content.pop(PROBLEM_JSON, None) or content.pop("application/json", None) or {}
        content.clear()
        media["schema"] = PROBLEM_REF
        content[PROBLEM_JSON] = media
        if not response.get("description"):
            response["description"] = "Error"


def _problem_component(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = problem.pop("$defs", {})
    for name, definition in defs.items():
        components[name] = definition
    problem["properties"]["code"]["enum"] = problem_codes()
    components["Problem"] = problem
    components.setdefault("FieldError", FieldError.model_json_schema())
    reason = components["ProblemReason"]
    reason["description"] = "The finer cause of a problem's code:\n\n" + "\n".join(
        f"- `{r.value}`: {REASON_DESCRIPTIONS[r]}" for r in ProblemReason
    )


def _models() -> Iterator[type[BaseModel]]:
    pending = list(BaseModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        yield model


def _restore_examples(components: dict[str, Any]) -> None:
    """FastAPI drops every null from the document, the nulls of examples included, so an
    example of a nullable field no longer validates; put the models' own examples back."""
    examples: dict[str, list[Any]] = {}
    for model in _models():
        extra = model.model_config.get("json_schema_extra")
        if isinstance(extra, dict) and isinstance(extra.get("examples"), list):
            examples.setdefault(model.__name__, to_jsonable_python(extra["examples"]))
    for name, definition in components.items():
        base = name.removesuffix("-Input").removesuffix("-Output")
        if "examples" in definition and base in examples:
            definition["examples"] = examples[base]


def finish(schema: dict[str, Any]) -> dict[str, Any]:
    """Everything the routes do not say themselves (see the module docstring)."""
    _problem_component(schema)
    _restore_examples(schema["components"]["schemas"])
    schema["servers"] = [{"url": "/", "description": "This deployment"}]
    schema["info"]["license"] = {"name": "Proprietary", "identifier": "LicenseRef-Tanhui"}
    used = {tag for _, _, op in _operations(schema) for tag in op.get("tags", [])}
    known = {t["name"] for t in TAGS}
    schema["tags"] = [t for t in TAGS if t["name"] in used] + [
        {"name": name} for name in sorted(used - known)
    ]
    schema["components"].setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, _method, op in _operations(schema):
        responses = op.setdefault("responses", {})
        if "422" in responses:
            responses["422"] = (
                _VALIDATION if _fastapi_default(responses["422"]) else (responses["422"])
            )
        _only_problems(responses)
        if "requestBody" in op:
            responses.setdefault("400", _MALFORMED)
            responses.setdefault("413", _TOO_LARGE)
        partner = path.startswith(_PARTNER_PREFIX)
        if partner:
            op["security"] = [{"PartnerSignature": []}]
        elif path == "/metrics":
            op["security"] = [{"MetricsToken": []}, {}]
        elif "security" not in op:
            op["security"] = []
        identified = bool(op["security"]) and path != "/metrics"
        if identified:
            responses.setdefault("401", _UNAUTHORIZED)
        if identified or path.startswith(_LIMITED_WITHOUT_TOKEN):
            responses.setdefault("429", _RATE_LIMITED)
        if path not in _NO_DATABASE:
            responses.setdefault("503", _UNAVAILABLE)
        responses.setdefault("default", _DEFAULT)
    return schema


def _fastapi_default(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return ref.endswith("/HTTPValidationError")


def install(app: FastAPI) -> None:
    """Serve ``finish``ed document as ``/openapi.json``, built once."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(base())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
