"""Print pip constraints pinning every dependency in pyproject.toml to its ``>=`` floor.

``make test-floors`` installs with these constraints, so the floors we state are the versions
the suite has actually passed on.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

SPEC = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)$")


def floors(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins = []
    for requirement in requirements:
        match = SPEC.match(requirement)
        if not match:
            continue
        name, constraints = match.groups()
        floor = re.search(r">=\s*([^,;\s]+)", constraints)
        if floor:
            pins.append(f"{name}=={floor.group(1)}")
    return sorted(set(pins), key=str.lower)


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    print("\n".join(floors(root / "pyproject.toml")))
    sys.exit(0)
