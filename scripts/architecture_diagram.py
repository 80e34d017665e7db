"""Draws the import graph of the Python packages as a Mermaid diagram, from the code itself.

    .venv/bin/python scripts/architecture_diagram.py           # print the diagram
    .venv/bin/python scripts/architecture_diagram.py --write   # replace it in docs/architecture.md
    .venv/bin/python scripts/architecture_diagram.py --check   # exit 1 when the doc's copy is stale

Modules are grouped into components (a package's first-level module or subpackage, e.g.
`annotator.services` or `segmentation.sam`); an arrow A --> B means some module of A imports some
module of B. Only arrows between the top-level packages and into the model runtime (torch and the
SAM packages) are drawn: they are the ones the import-linter contracts (.importlinter) constrain.
The graph comes from grimp, the library import-linter itself uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "annotator", "segmentation", "common")
MODEL_RUNTIME = ("torch", "torchvision", "segment_anything", "mobile_sam")
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- import-diagram:start -->", "<!-- import-diagram:end -->"


def component(module: str) -> str:
    parts = module.split(".")
    if parts[0] in MODEL_RUNTIME:
        return "model runtime"
    return ".".join(parts[:2])


def edges() -> set[tuple[str, str]]:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, include_external_packages=True)
    found: set[tuple[str, str]] = set()
    for importer in graph.modules:
        if importer.split(".")[0] not in PACKAGES:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            top = imported.split(".")[0]
            if top not in PACKAGES and top not in MODEL_RUNTIME:
                continue
            source, target = component(importer), component(imported)
            crosses = importer.split(".")[0] != top
            if source != target and crosses:
                found.add((source, target))
    return found


def mermaid() -> str:
    lines = ["```mermaid", "flowchart LR"]
    nodes = sorted({name for edge in edges() for name in edge})
    ids = {name: name.replace(".", "_").replace(" ", "_") for name in nodes}
    for package in PACKAGES:
        members = [name for name in nodes if name.split(".")[0] == package]
        if members:
            lines.append(f"  subgraph {package}")
            lines.extend(f'    {ids[name]}["{name}"]' for name in members)
            lines.append("  end")
    if "model runtime" in ids:
        lines.append(f'  {ids["model runtime"]}[("torch + SAM packages")]')
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in sorted(edges()))
    lines.append("```")
    return "\n".join(lines)


def doc_with(diagram: str) -> str:
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        raise SystemExit(f"{DOC} has no {START} marker")
    return f"{head}{START}\n{diagram}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="replace the diagram in docs/architecture.md")
    mode.add_argument("--check", action="store_true", help="fail when docs/architecture.md's diagram is stale")
    args = parser.parse_args()
    diagram = mermaid()
    if args.write:
        DOC.write_text(doc_with(diagram))
    elif args.check:
        if DOC.read_text() != doc_with(diagram):
            print("docs/architecture.md: the import diagram is stale; run scripts/architecture_diagram.py --write")
            return 1
    else:
        print(diagram)
    return 0


if __name__ == "__main__":
    sys.exit(main())
