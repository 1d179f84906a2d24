"""The rooms keep their walls: services speak no HTTP, routers do not lean on each other."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
WEB_OR_DRIVER = ("fastapi", "starlette", "asyncpg")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_no_service_imports_the_web_framework_or_the_database_driver():
    offenders = {
        str(path.relative_to(APP)): name
        for path in (APP / "services").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in WEB_OR_DRIVER
    }
    assert offenders == {}


def test_no_service_takes_a_request():
    offenders = []
    for path in (APP / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.annotation is not None and "Request" in ast.unparse(arg.annotation):
                        offenders.append(f"{path.relative_to(APP)}:{node.name}")
    assert offenders == []


def _domain(module: str) -> str:
    """``app.routers.rewards.admin`` -> ``rewards``; a domain's package is one room."""
    return module.split(".")[2] if module.count(".") >= 2 else module


def test_no_router_imports_another_domains_router():
    offenders = []
    for path in (APP / "routers").rglob("*.py"):
        own = _domain("app." + ".".join(path.relative_to(APP).with_suffix("").parts))
        for name in _imports(path):
            if name.startswith("app.routers.") and _domain(name) != own:
                offenders.append(f"{path.relative_to(APP)} imports {name}")
    assert offenders == []


def test_the_error_catalogue_renders_nothing():
    roots = {n.split(".")[0] for n in _imports(APP / "kit" / "errors.py")}
    assert roots <= {"__future__", "enum", "typing"}
