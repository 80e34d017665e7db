"""Fails when README.md or docs/*.md name something the repository does not have.

Checked references, each reported as file:line:
- file and folder paths: markdown link targets, and code spans that look like repository paths
  (contain a `/` or end in a source extension); inside fenced code blocks, tokens that start with
  `./` or are a path ending in a source extension. A path may be relative to the repository root,
  to the document's folder or (for frontend modules) to frontend/src/. Paths the repository
  deliberately ignores (build output such as static/dist/, runtime data under var/) count as known.
- `make <target>`: a target of the Makefile;
- `manage.py <command>`: a Django management command of this project's INSTALLED_APPS;
- `npm run <script>`: a script of frontend/package.json.

Run it from anywhere: `.venv/bin/python scripts/check_docs.py`; exit status 1 when anything is broken.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SOURCE_EXTENSIONS = (
    ".py", ".md", ".ts", ".js", ".mjs", ".sh", ".json", ".toml", ".ini", ".cfg", ".txt", ".html",
    ".css", ".yml", ".yaml",
)  # fmt: skip
# A bare file name is a repository reference only with a code extension: `seed_demo.py` is a file
# of this repository, `annotations.json` or `data.yaml` usually a file inside an export archive.
CODE_EXTENSIONS = (".py", ".ts", ".js", ".mjs", ".sh", ".html", ".css", ".toml", ".ini", ".cfg")
# `module/name.attribute` names an attribute of a Python or TypeScript module.
MODULE_EXTENSIONS = (".py", ".ts")
# Folders whose contents are not the repository's own (installed packages, runtime data).
SKIPPED_DIRS = {".git", ".venv", "node_modules", "var", "__pycache__", ".mypy_cache", ".ruff_cache"}
# Frontend modules are named relative to frontend/src/ in the docs (e.g. `sam/feeds.ts`).
EXTRA_BASES = ("frontend/src",)
# Slash-separated words that are not paths: MIME types, URL schemes, scoped npm packages.
NOT_A_PATH = re.compile(r"^(application|image|text|audio|video|multipart)/|://|^[a-z]+:|^@")

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
# A code span: backtick-delimited, may wrap onto the next line but never crosses a blank line.
CODE_SPAN = re.compile(r"(`+)((?:(?!\n\s*\n).)+?)\1", re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MAKE = re.compile(r"(?:^|[\s;&|(`])make\s+([A-Za-z][\w.-]*)")
MANAGE = re.compile(r"manage\.py\s+([a-z][\w-]*)")
NPM_RUN = re.compile(r"npm\s+run\s+([\w:.-]+)")
PATH_TOKEN = re.compile(r"^[\w.@~+-]*(?:/[\w.@~+-]*)*$")


@dataclass(frozen=True)
class BrokenReference:
    document: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT) if self.document.is_relative_to(ROOT) else self.document}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Known:
    """What references may name: the repository's Makefile targets, commands and scripts."""

    make_targets: frozenset[str]
    manage_commands: frozenset[str]
    npm_scripts: frozenset[str]
    npm_packages: frozenset[str]
    path_exists: Callable[[str, Path], bool]


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def makefile_targets(makefile: Path) -> frozenset[str]:
    targets = re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", makefile.read_text(encoding="utf-8"), re.MULTILINE)
    return frozenset(targets)


def management_commands() -> frozenset[str]:
    # Django's own registry: every command of every installed app (django.contrib.*, annotator,
    # segmentation, third-party apps), exactly what `manage.py help` lists.
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import get_commands

    django.setup()
    return frozenset(get_commands())


def package_json(root: Path) -> dict:
    return json.loads((root / "frontend" / "package.json").read_text(encoding="utf-8"))


def ignore_patterns(root: Path) -> list[str]:
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        return []
    lines = gitignore.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_ignored(relative: str, patterns: list[str]) -> bool:
    """Whether a root-relative path is (inside) something .gitignore names, e.g. static/dist/x."""
    parts = relative.strip("/").split("/")
    for pattern in patterns:
        anchored = pattern.startswith("/")
        bare = pattern.strip("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if (anchored or "/" in bare) and fnmatch.fnmatch(prefix, bare):
                return True
            if not anchored and "/" not in bare and fnmatch.fnmatch(parts[depth - 1], bare):
                return True
    return False


def file_names(root: Path) -> frozenset[str]:
    names: set[str] = set()
    for _dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        names.update(filenames)
    return frozenset(names)


def path_checker(root: Path) -> Callable[[str, Path], bool]:
    patterns = ignore_patterns(root)
    names = file_names(root)

    def exists(reference: str, document: Path) -> bool:
        if "/" not in reference.rstrip("/"):
            # A bare file name (`seed_demo.py`) names a file somewhere in the repository.
            bare = reference.rstrip("/")
            if bare in names or (document.parent / bare).exists() or (root / bare).exists():
                return True
        head, _, last = reference.rpartition("/")
        stem = last.split(".", 1)[0]
        as_module = [f"{head}/{stem}{extension}" for extension in MODULE_EXTENSIONS] if "." in last else []
        bases = [root, document.parent, *(root / extra for extra in EXTRA_BASES)]
        for base in bases:
            for candidate in [(base / name).resolve() for name in (reference, *as_module)]:
                if candidate.exists():
                    return True
                if candidate.is_relative_to(root) and is_ignored(candidate.relative_to(root).as_posix(), patterns):
                    return True
        return False

    return exists


def load_known(root: Path) -> Known:
    package = package_json(root)
    dependencies = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    return Known(
        make_targets=makefile_targets(root / "Makefile"),
        manage_commands=management_commands(),
        npm_scripts=frozenset(package.get("scripts", {})),
        npm_packages=frozenset(dependencies),
        path_exists=path_checker(root),
    )


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _clean_path(token: str) -> str:
    token = token.split("#", 1)[0]
    token = re.sub(r":\d+(?:-\d+)?$", "", token)  # file.py:120 names a line of file.py
    return token.removeprefix("./")


def _looks_like_path(token: str, known: Known) -> bool:
    if not token or not PATH_TOKEN.match(token) or token.startswith(("/", "~", "-")):
        return False
    if NOT_A_PATH.search(token) or "..." in token:
        return False
    segments = token.split("/")
    if segments[0] in known.npm_packages or "/".join(segments[:2]) in known.npm_packages:
        return False  # a package import specifier such as onnxruntime-web/wasm
    # A slash between two names (`docs/models.md`, `static/dist/`); a lone `images/` is too
    # ambiguous (archive folders, URL parts) to be a repository reference.
    return "/" in token.rstrip("/") or token.endswith(CODE_EXTENSIONS)


def _command_references(code: str, line: int, document: Path, known: Known) -> Iterator[BrokenReference]:
    checks = (
        (MAKE, known.make_targets, "make {} : no such Makefile target"),
        (MANAGE, known.manage_commands, "manage.py {} : no such management command"),
        (NPM_RUN, known.npm_scripts, "npm run {} : no such script in frontend/package.json"),
    )
    for pattern, names, message in checks:
        for match in pattern.finditer(code):
            if match.group(1) not in names:
                yield BrokenReference(
                    document, line + code.count("\n", 0, match.start(1)), message.format(match.group(1))
                )


def check_document(document: Path, known: Known) -> Iterator[BrokenReference]:
    text = document.read_text(encoding="utf-8")
    fenced_spans: list[tuple[int, int]] = []
    for block in FENCE.finditer(text):
        fenced_spans.append(block.span())
        start_line = _line_of(text, block.start())
        yield from _command_references(block.group(0), start_line, document, known)
        for offset, raw_line in enumerate(block.group(0).splitlines()):
            for token in raw_line.split():
                token = token.strip("\"'`,;()")
                if token.startswith("./") or (token.endswith(SOURCE_EXTENSIONS) and "/" in token):
                    path = _clean_path(token)
                    if _looks_like_path(path, known) and not known.path_exists(path, document):
                        yield BrokenReference(document, start_line + offset, f"{token} : no such file or folder")

    def in_fence(offset: int) -> bool:
        return any(start <= offset < end for start, end in fenced_spans)

    for span in CODE_SPAN.finditer(text):
        if in_fence(span.start()):
            continue
        code, line = span.group(2).strip(), _line_of(text, span.start())
        yield from _command_references(code, line, document, known)
        path = _clean_path(code)
        if _looks_like_path(path, known) and not known.path_exists(path, document):
            yield BrokenReference(document, line, f"`{code}` : no such file or folder")

    for link in LINK.finditer(text):
        target = link.group(1)
        if in_fence(link.start()) or target.startswith(("http://", "https://", "mailto:", "#", "/")):
            continue
        path = _clean_path(target)
        if path and not (document.parent / path).exists():
            yield BrokenReference(document, _line_of(text, link.start()), f"link {target} : no such file or folder")


def main() -> int:
    known = load_known(ROOT)
    broken = [reference for document in documents(ROOT) for reference in check_document(document, known)]
    for reference in broken:
        print(reference)
    if broken:
        print(f"check_docs: {len(broken)} broken reference(s)", file=sys.stderr)
        return 1
    print(f"check_docs: {len(documents(ROOT))} documents, all references resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
