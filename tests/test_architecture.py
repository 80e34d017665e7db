"""Architecture rules checked on the source: no first-party import hides inside a function body
(they hid import loops), and the import-linter contracts (.importlinter) hold."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("annotator", "segmentation", "common", "config")
# Modules that may import torch at their top (the .importlinter torch boundary): deferring an import
# of one of them is a lazy third-party import, which keeps torch out of the web process.
TORCH_ZONE = ("segmentation.sam", "segmentation.training")
# Files with function-body imports that the OpenAPI-contract work (issue 11) is rewriting now; their
# owner removes them from this set. Only ever shrink it.
PENDING_ELSEWHERE: set[str] = set()


def _imported_module(node: ast.Import | ast.ImportFrom, module_name: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against the importing module's package
        package = module_name.rsplit(".", node.level)[0]
        return [f"{package}.{node.module}" if node.module else package]
    return [node.module or ""]


def function_body_imports(source: str, module_name: str) -> list[tuple[int, str]]:
    """(line, module) of every first-party import inside a function or method body of the source."""
    found = set()  # a set: a nested function's imports are inside its outer function too
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for module in _imported_module(node, module_name):
                    if module.split(".")[0] in PACKAGES and not module.startswith(TORCH_ZONE):
                        found.add((node.lineno, module))
    return sorted(found)


def test_the_scan_finds_function_body_imports_only():
    source = (
        "from annotator import models\n"
        "def f():\n"
        "    from annotator.models import Image\n"
        "    import torch\n"
        "    from segmentation.sam import loader\n"
        "    class C:\n"
        "        def g(self):\n"
        "            from .tasks import x\n"
    )
    assert function_body_imports(source, "common.probe") == [(3, "annotator.models"), (8, "common.tasks")]


def test_no_first_party_import_inside_a_function_body():
    violations = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in PENDING_ELSEWHERE:
                continue
            module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for line, module in function_body_imports(path.read_text(), module_name):
                violations.append(f"{relative}:{line} imports {module} inside a function")
    assert violations == [], "\n".join(violations) + "\nImport at module top; restructure a loop instead."


def test_import_linter_contracts_hold():
    """annotator > segmentation > common layers, the engine never imports annotator, torch only in
    segmentation.sam and segmentation.training (.importlinter)."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    result = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


MAX_LINES = 400


def test_no_module_of_the_two_apps_is_over_400_lines():
    """Big modules were where unrelated jobs piled up (media.py, services/images.py, views)."""
    long = []
    for package in ("annotator", "segmentation"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            lines = len(path.read_text().splitlines())
            if "/migrations/" not in relative and lines > MAX_LINES:
                long.append(f"{relative}: {lines} lines")
    assert long == [], "\n".join(long)


def test_the_architecture_diagram_in_the_docs_is_current():
    script = ROOT / "scripts" / "architecture_diagram.py"
    result = subprocess.run([sys.executable, str(script), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
