"""Refusing text that the database cannot store, wherever a request carries it.

PostgreSQL's text types cannot hold NUL, and a lone UTF-16 surrogate (which JSON's ``\\ud800``
escape produces) cannot be encoded as UTF-8 at all. Either one reaching a query fails in the
driver, after the request has done work, as a 500. So every string a request brings (query
and path parameters, headers, form fields, JSON bodies, keys included) is checked once, before
any dependency or endpoint runs, and refused as a 422 ``validation_error`` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In raw JSON these characters can only arrive as escapes, so most bodies skip the walk.
_ESCAPED = re.compile(rb"\\u(?:0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MESSAGE = "Text must not contain NUL characters or unpaired surrogates"

# A route whose body holds a list of items validated one by one (a batch) names the list
# here in ``openapi_extra``; such an item fails alone instead of failing the whole request.
ITEMS_CHECKED_ALONE = "x-items-validated-alone"


def unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def find_unstorable(value: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The location of every string (or object key) in a JSON value that cannot be stored."""
    if isinstance(value, str):
        if unstorable(value):
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if unstorable(key):
                yield (*loc, key.encode("unicode_escape").decode())
            else:
                yield from find_unstorable(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from find_unstorable(item, (*loc, i))


def problem_errors(locs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Pydantic-shaped errors, so they render like every other validation error."""
    return [{"loc": loc, "msg": MESSAGE, "type": "string_unstorable_character"} for loc in locs]


async def refuse_unstorable_text(request: Request) -> None:
    """An application-wide dependency: runs first on every route."""
    locs: list[tuple[Any, ...]] = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and unstorable(value):
            locs.append(("path", name))
    for name, value in request.query_params.multi_items():
        if unstorable(name) or unstorable(value):
            locs.append(("query", name.encode("unicode_escape").decode()))
    for name, value in request.headers.items():
        if unstorable(name) or unstorable(value):
            locs.append(("header", name.encode("unicode_escape").decode()))
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is not None:
        locs += await _body(request, route)
    if locs:
        raise RequestValidationError(problem_errors(locs[:20]))


async def _body(request: Request, route: Any) -> list[tuple[Any, ...]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        form = await request.form()  # parsed already for a form route; this is the cache
        return [
            ("body", name)
            for name, value in form.multi_items()
            if unstorable(name) or (isinstance(value, str) and unstorable(value))
        ]
    raw = await request.body()
    if not _ESCAPED.search(raw):
        return []
    try:
        body = await request.json()  # FastAPI has parsed it already: this is the cache
    except ValueError:
        return []  # not JSON: the route's own validation answers
    skip = (getattr(route, "openapi_extra", None) or {}).get(ITEMS_CHECKED_ALONE)
    if skip and isinstance(body, dict) and isinstance(body.get(skip), list):
        body = {k: v for k, v in body.items() if k != skip}
    return [("body", *loc) for loc in find_unstorable(body)]
