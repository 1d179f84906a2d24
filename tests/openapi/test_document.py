"""The OpenAPI document is true: what generators and linters read is what the service does."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from app.config import Settings
from app.kit.errors import REASON_DESCRIPTIONS, ProblemReason
from app.kit.problems import PROBLEM_JSON, problem_codes
from app.main import create_app
from app.services.rewards.incentives import INACTIVE
from tests.conftest import TEST_HASH_COST, TEST_SECRET

APP = Path(__file__).resolve().parents[2] / "app"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    settings = Settings(  # type: ignore[call-arg]
        env="test", jwt_secret=TEST_SECRET, database_url="sqlite+aiosqlite://", **TEST_HASH_COST
    )
    return create_app(settings).openapi()


def operations(doc: dict[str, Any]):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_the_document_is_valid_openapi(doc):
    validate(doc)


def test_operation_ids_are_short_unique_camel_case(doc):
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-zA-Z]{2,40}", i) for i in ids), ids
    by_route = {(p, m): op["operationId"] for p, m, op in operations(doc)}
    assert by_route[("/v1/events", "post")] == "postEvent"
    assert by_route[("/v1/account", "get")] == "getAccount"
    assert by_route[("/v1/auth/token", "post")] == "signIn"


def test_every_error_response_is_a_problem(doc):
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, method, op in operations(doc):
        assert "default" in op["responses"], (path, method)
        for status, response in op["responses"].items():
            if status == "default" or int(status) >= 400:
                assert list(response["content"]) == [PROBLEM_JSON], (path, method, status)
                schema = response["content"][PROBLEM_JSON]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}


def test_operations_with_a_body_or_parameters_document_their_validation_errors(doc):
    for path, method, op in operations(doc):
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(op["responses"]), (path, method)
        if path.startswith("/v1/"):
            assert "503" in op["responses"], (path, method)


def test_problem_code_and_reason_are_enums(doc):
    problem = doc["components"]["schemas"]["Problem"]
    codes = problem["properties"]["code"]["enum"]
    assert {"validation_error", "unauthorized", "insufficient_points", "malformed_json"} <= set(
        codes
    )
    assert codes == problem_codes()
    reason = doc["components"]["schemas"]["ProblemReason"]
    assert reason["enum"] == [r.value for r in ProblemReason]
    assert {"errors", "request_id", "retry_after"} <= set(problem["properties"])


def _reason_literals() -> set[str]:
    found = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "reason"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found.add(node.value.value)
            if isinstance(node, ast.ClassDef):  # ``reason = "…"`` on an error class
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and any(getattr(t, "id", None) == "reason" for t in stmt.targets)
                        and isinstance(stmt.value, ast.Constant)
                    ):
                        found.add(stmt.value.value)
    return found


def test_every_reason_in_the_code_is_in_the_catalogue():
    literals = _reason_literals() | set(INACTIVE)
    assert "token_expired" in literals  # the scan sees the raise sites
    assert literals <= {r.value for r in ProblemReason}
    assert set(REASON_DESCRIPTIONS) == set(ProblemReason)


def test_statuses_roles_and_kinds_are_enums(doc):
    schemas = doc["components"]["schemas"]
    for name in ("RecordStatus", "Role", "TransactionKind", "RedemptionStatus", "Reason"):
        assert schemas[name]["enum"], name
    assert schemas["RecordOut"]["properties"]["status"] == {
        "$ref": "#/components/schemas/RecordStatus"
    }


def test_every_success_response_has_a_typed_schema(doc):
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                continue
            for media, content in response.get("content", {}).items():
                schema = content.get("schema", {})
                if media == "application/json":
                    assert "$ref" in schema, (path, method, status)
                else:
                    assert schema, (path, method, status, media)


def test_every_example_validates_against_its_schema(doc):
    checked = 0
    for _name, schema in doc["components"]["schemas"].items():
        for example in schema.get("examples", []):
            OAS31Validator({**schema, "components": doc["components"]}).validate(example)
            checked += 1
    for _, _, op in operations(doc):
        for response in op["responses"].values():
            for content in response.get("content", {}).values():
                resolved = {**content["schema"], "components": doc["components"]}
                for example in content.get("examples", {}).values():
                    OAS31Validator(resolved).validate(example["value"])
                    checked += 1
    assert checked > 40


def test_public_operations_say_so_and_others_name_their_scheme(doc):
    schemes = set(doc["components"]["securitySchemes"])
    for path, method, op in operations(doc):
        assert "security" in op, (path, method)
        for requirement in op["security"]:
            assert set(requirement) <= schemes
    assert doc["paths"]["/v1/auth/register"]["post"]["security"] == []
    assert doc["paths"]["/v1/partner/events"]["post"]["security"] == [{"PartnerSignature": []}]
    assert doc["paths"]["/v1/account"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]


def test_servers_license_and_tag_descriptions(doc):
    assert doc["servers"] and doc["info"]["license"]["name"]
    used = {t for _, _, op in operations(doc) for t in op.get("tags", [])}
    assert {t["name"] for t in doc["tags"]} == used
    assert all(t.get("description") for t in doc["tags"])


def test_date_times_are_strings_in_the_document(doc):
    out = doc["components"]["schemas"]["RecordOut"]["properties"]["occurred_at"]
    assert (out["type"], out["format"]) == ("string", "date-time")
