"""Languages: zh-CN and en, chosen per request by ``Accept-Language``.

The English text in the code is the message id; the Chinese is a gettext catalog
(``locales/zh_CN/LC_MESSAGES/tanhui.po``, read with Babel when first needed). A message with
values in it (``Record {record_id} does not exist.``) is one catalog entry with named
placeholders: a rendered text is matched against the entry and its values carried into the
translation, each value translated too when it is itself a message. Codes never change with
the language; only text meant for people does.
"""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENGLISH = "en"
CHINESE = "zh-CN"
LANGUAGES = (CHINESE, ENGLISH)
LOCALES = Path(__file__).parent / "locales"
_CATALOG_OF = {CHINESE: "zh_CN"}

_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=ENGLISH)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def current() -> str:
    """The language of the request being served (English outside a request)."""
    return _language.get()


def use(language: str) -> contextvars.Token[str]:
    return _language.set(language)


def _match(tag: str) -> str | None:
    tag = tag.strip().lower()
    if tag == "*":
        return None
    primary = tag.split("-")[0]
    if primary == "zh":
        # Traditional script or regions that write it are still better served in zh-CN
        # than in English; there is one Chinese catalog.
        return CHINESE
    if primary == "en":
        return ENGLISH
    return None


def negotiate(header: str | None, default: str) -> str:
    """The best of our languages for an ``Accept-Language`` header (RFC 9110 q-values);
    ``default`` when the header names none of them (or only ``*``)."""
    if not header:
        return default
    best, best_q = default, 0.0
    for part in header.split(",")[:32]:
        tag, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        language = default if tag.strip() == "*" else _match(tag)
        # The first of equal weights wins: the order of the header is the client's preference.
        if language is not None and 0 < q <= 1 and q > best_q:
            best, best_q = language, q
    return best


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    translation: str


@dataclass(frozen=True)
class Catalog:
    exact: dict[str, str]
    templates: tuple[_Template, ...]


def catalog_path(language: str) -> Path:
    return LOCALES / _CATALOG_OF[language] / "LC_MESSAGES" / "tanhui.po"


@lru_cache(maxsize=4)
def catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as f:
        po = read_po(f)
    exact: dict[str, str] = {}
    templates: list[_Template] = []
    for message in po:
        if not message.id or not isinstance(message.id, str) or not message.string:
            continue
        translation = str(message.string)
        names = tuple(_PLACEHOLDER.findall(message.id))
        if names:
            parts = _PLACEHOLDER.split(message.id)
            regex = "".join(
                re.escape(part) if i % 2 == 0 else "(.+?)" for i, part in enumerate(parts)
            )
            templates.append(_Template(re.compile(regex + r"\Z", re.S), names, translation))
        else:
            exact[message.id] = translation
    # Longer templates first: the most specific match wins.
    templates.sort(key=lambda t: -len(t.pattern.pattern))
    return Catalog(exact, tuple(templates))


def _value(found: Catalog, value: str) -> str:
    """A value inside a message: itself a message, or a list of messages joined by "; "."""
    if value in found.exact:
        return found.exact[value]
    if "; " in value:
        return "；".join(found.exact.get(part, part) for part in value.split("; "))
    return value


def translate(text: str, language: str | None = None) -> str:
    """``text`` in ``language`` (the request's by default); itself when there is no entry."""
    language = language or current()
    if language == ENGLISH or not text:
        return text
    found = catalog(language)
    if text in found.exact:
        return found.exact[text]
    for template in found.templates:
        matched = template.pattern.match(text)
        if matched:
            values = {
                name: _value(found, value)
                for name, value in zip(template.names, matched.groups(), strict=True)
            }
            return template.translation.format(**values)
    return text


def _(text: str) -> str:
    """Marks a message for the catalog and translates it now."""
    return translate(text)


class LanguageMiddleware:
    """Chooses the request's language and says which in ``Content-Language``."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"accept-language":
                header = value.decode("latin-1")
                break
        language = negotiate(header, self.default)
        use(language)

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"content-language", language.encode()))
                headers.append((b"vary", b"Accept-Language"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_language)
