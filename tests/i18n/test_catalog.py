"""Every message a person reads has its Chinese translation, and the catalog is well formed."""

from __future__ import annotations

import ast
import re
from http import HTTPStatus
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import app.main  # noqa: F401  (imports every router, so every error class exists)
from app.i18n import CHINESE, ENGLISH, catalog_path, negotiate, translate
from app.kit.errors import DomainError
from app.kit.problems import _STATUS_CODES
from app.models.ledger import TransactionKind
from app.rules.registry import all_methodologies
from app.schemas.ledger import LINE_DESCRIPTIONS
from app.schemas.records import BREAKDOWN_PROSE, REASON_DESCRIPTIONS

APP = Path(__file__).resolve().parents[2] / "app"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _errors() -> list[type[DomainError]]:
    found, pending = [], [DomainError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _template(node: ast.expr) -> str | None:
    """A message as written in the code, each interpolated value as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.IfExp):
        return _template(node.body)
    if isinstance(node, ast.Call):  # a value computed in place ("; ".join(problems))
        return "{}"
    return None


def raised_messages() -> dict[str, str]:
    """Every message given to a domain error in the code, with where it is."""
    names = {cls.__name__ for cls in _errors()}
    found: dict[str, str] = {}
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name in names:
                if isinstance(node.args[0], ast.Name):
                    continue  # passed through a helper, whose callers give the text
                text = _template(node.args[0])
                assert text is not None, f"{path}:{node.lineno}: a message the test cannot read"
                found.setdefault(text, f"{path.relative_to(APP)}:{node.lineno}")
    return found


def _sample(template: str) -> str:
    return PLACEHOLDER.sub("x1", template)


def test_every_raised_message_has_a_translation():
    messages = raised_messages()
    assert len(messages) > 80  # the scan finds the raise sites
    missing = [
        f"{where}: {text}"
        for text, where in messages.items()
        if translate(_sample(text), CHINESE) == _sample(text)
    ]
    assert missing == []


def test_titles_and_plumbing_messages_have_translations():
    texts = {cls.title for cls in _errors()}
    texts |= {HTTPStatus(s).phrase for s in _STATUS_CODES}
    texts |= {
        "The request body is not valid JSON.",
        "Malformed JSON",
        "The request has invalid or missing fields.",
        "The database is unreachable for a moment; retry the same request.",
        "An unexpected error occurred; it has been logged.",
        "A dependency is unreachable.",
        "The request body is larger than 2000000 bytes.",
    }
    assert [t for t in sorted(texts) if translate(t, CHINESE) == t] == []


def test_methodologies_ledger_lines_and_reasons_have_translations():
    texts = set(LINE_DESCRIPTIONS.values()) | set(REASON_DESCRIPTIONS.values())
    for m in all_methodologies():
        texts |= {m.name, m.description}
    assert set(LINE_DESCRIPTIONS) == set(TransactionKind)
    assert [t for t in sorted(texts) if translate(t, CHINESE) == t] == []


def breakdown_prose() -> dict[str, str]:
    """Every formula and rounding text the methodologies write into a breakdown."""
    found: dict[str, str] = {}
    for path in sorted((APP / "rules").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in BREAKDOWN_PROSE:
                    text = _template(value)
                    assert text is not None, f"{path}:{value.lineno}: prose the test cannot read"
                    found.setdefault(text, f"{path.relative_to(APP)}:{value.lineno}")
    return found


def test_the_prose_of_every_breakdown_has_a_translation():
    prose = breakdown_prose()
    assert len(prose) >= 6  # the scan finds every methodology's formula
    missing = [
        f"{where}: {text}"
        for text, where in prose.items()
        if translate(_sample(text), CHINESE) == _sample(text)
    ]
    assert missing == []


def test_messages_are_written_to_be_translated():
    for text in raised_messages():
        assert "(s)" not in text, text


def test_the_catalog_is_complete_and_its_placeholders_match():
    with catalog_path(CHINESE).open("rb") as f:
        po = read_po(f)
    for message in po:
        if not message.id:
            continue
        assert message.string, message.id
        assert not message.fuzzy, message.id
        assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(message.id)), (
            message.id
        )


def test_values_inside_a_message_are_translated_too():
    assert translate("This incentive is paused.", CHINESE) == "该权益已暂停。"
    assert translate("Record 7a1d does not exist.", CHINESE) == "记录 7a1d 不存在。"
    assert translate("Something new.", CHINESE) == "Something new."


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, ENGLISH),
        ("zh-CN", CHINESE),
        ("zh", CHINESE),
        ("zh-Hans-CN,zh;q=0.9", CHINESE),
        ("en-US,en;q=0.9,zh-CN;q=0.8", ENGLISH),
        ("fr-FR,zh-CN;q=0.5,en;q=0.4", CHINESE),
        ("en;q=0.2, zh-CN;q=0.9", CHINESE),
        ("zh-CN;q=0, en", ENGLISH),
        ("fr, de;q=0.5", ENGLISH),
        ("*", ENGLISH),
        ("zh-CN;q=banana, en;q=0.1", ENGLISH),
    ],
)
def test_accept_language_q_values(header, chosen):
    assert negotiate(header, ENGLISH) == chosen


def test_the_default_language_is_used_when_none_is_named():
    assert negotiate("fr", CHINESE) == CHINESE
    assert negotiate(None, CHINESE) == CHINESE
