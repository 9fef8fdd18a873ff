"""The package's shape: imports flow one way (spec -> features/data -> model -> train -> artifact -> score -> run
-> cli), scoring never imports training, nothing imports the CLI, and modules stay small enough to read."""

from __future__ import annotations

import ast

from .conftest import ROOT

PACKAGE = ROOT / "wdcli"
# lowest first; a module may import from its own layer and the ones before it
LAYERS = [
    "errors",
    "metrics",
    "spec",
    "features",
    "data",
    "draft",
    "model",
    "train",
    "artifact",
    "score",
    "serve",
    "export",
    "track",
    "run",
    "tune",
    "report",
    "cli",
]
LEAVES = {"__init__": 0, "__main__": len(LAYERS) - 1}


def part_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def layer(part: str) -> int:
    return LEAVES[part] if part in LEAVES else LAYERS.index(part)


def imports(path) -> list[str]:
    """The wdcli modules a file imports, as dotted names."""
    here = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = here.rsplit(".", 1)[0] if path.name != "__init__.py" else here.removesuffix(".__init__")
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("wdcli"):
                names = [f"{target}.{a.name}" for a in node.names] if target == "wdcli" else [target]
                out += names
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("wdcli")]
    return out


def test_imports_flow_one_way():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        here = part_of(source)
        for target in imports(path):
            there = part_of(target)
            if there == "__version__" or target == "wdcli":
                continue
            if layer(there) > layer(here):
                problems.append(f"{source} imports {target} ({there} comes after {here})")
            if here in ("score", "serve", "export") and there == "train":
                problems.append(f"{source} imports {target}: scoring must not import training")
    assert not problems, "\n".join(problems)


def test_modules_stay_small():
    big = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > 400
    ]
    assert not big, big
