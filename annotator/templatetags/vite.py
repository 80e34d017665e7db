"""`{% vite_entry "src/main.ts" %}`: the <script>/<link> tags for a Vite entry, found through the build
manifest (static/dist/.vite/manifest.json), so templates never name hashed bundle files.

The manifest is read once per process (it changes only with a new build, i.e. a new deployment);
a missing manifest or entry raises at render time with the command that fixes it.
"""

from __future__ import annotations

import json
from functools import lru_cache

from django import template
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

MANIFEST_PATH = "dist/.vite/manifest.json"
BUNDLE_PREFIX = "dist/"


class ViteManifestError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def load_manifest() -> dict:
    # Finders first (development, no collectstatic), then the collected files (production).
    found = finders.find(MANIFEST_PATH)
    try:
        if found:
            with open(found, encoding="utf-8") as handle:
                return json.load(handle)
        with staticfiles_storage.open(MANIFEST_PATH) as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, FileNotFoundError) as exc:
        raise ViteManifestError(f"{MANIFEST_PATH} is missing: run `cd frontend && npm run build`.") from exc


def entry_files(manifest: dict, entry: str) -> tuple[str, list[str]]:
    """(script file, css files) of an entry, both relative to static/dist/."""
    chunk = manifest.get(entry)
    if chunk is None:
        raise ViteManifestError(f"{entry} is not in the Vite manifest: run `cd frontend && npm run build`.")
    css = list(chunk.get("css", []))
    for imported in chunk.get("imports", []):
        css.extend(manifest.get(imported, {}).get("css", []))
    return chunk["file"], css


@register.simple_tag
def vite_entry(entry: str) -> SafeString:
    script, css = entry_files(load_manifest(), entry)
    links = format_html_join("", '<link rel="stylesheet" href="{}">', ((static(BUNDLE_PREFIX + f),) for f in css))
    return format_html('{}<script type="module" src="{}"></script>', links, static(BUNDLE_PREFIX + script))
