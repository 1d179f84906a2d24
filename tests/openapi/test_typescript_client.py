"""The TypeScript client in clients/typescript: its types are generated from the document and
fail the suite when out of date; it compiles strictly and works against a real server."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from app.migrate import upgrade
from tests.helpers import PASSWORD
from tests.openapi.test_tools import ROOT, node_tool, write_document
from tests.production.server import base_env, serve

CLIENT = ROOT / "clients" / "typescript"

pytestmark = pytest.mark.xdist_group("tools")


def test_the_generated_types_match_the_document(tmp_path):
    doc = write_document(tmp_path / "openapi.json")
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(node_tool("openapi-typescript")), str(doc), "-o", str(fresh)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    committed = (CLIENT / "src" / "schema.d.ts").read_text()
    assert fresh.read_text() == committed, "clients/typescript is out of date: run make client-ts"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ts")
    result = subprocess.run(
        [str(node_tool("tsc")), "-p", str(CLIENT), "--outDir", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (out / "package.json").write_text('{"type": "module"}')
    return out


def test_the_typescript_client_works_against_the_server(compiled, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    email = f"ts-{uuid.uuid4().hex[:8]}@example.cn"
    with serve(base_env(url)) as (base_url, _):
        result = subprocess.run(
            ["node", str(compiled / "examples" / "smoke.js"), base_url, email, PASSWORD],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["status"] == "credited" and seen["points"] > 0
    assert seen["problem"]["status"] == 422 and seen["problem"]["code"] == "validation_error"
    assert seen["problem"]["field"] == "data.distance_km"
    assert seen["problem"]["title"] == "校验未通过"
    assert seen["line"] == "低碳行为核证获得积分"
