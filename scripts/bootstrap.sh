#!/usr/bin/env bash
# Installs everything the app and its tests need; safe to run any number of times.
#
# Each step is skipped when its inputs have not changed since it last succeeded:
#   - system packages (Chromium for browser tests, dicom3tools for DICOM validation): only the
#     missing ones, and only as root with apt-get;
#   - .venv: `pip install -r requirements.txt` only when requirements.txt's hash differs from the
#     stamp in .venv/ (an existing venv that already has every pin gets stamped without pip, so a
#     5 GB torch install is never repeated);
#   - frontend: `npm ci` when package-lock.json changed, `npm run build` when sources changed.
# Environment: PYTHON (default python3, must be 3.11+), SKIP_APT=1 to leave system packages alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[bootstrap] %s\n' "$*"; }

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

install_system_packages() {
  if [[ "${SKIP_APT:-0}" == "1" ]]; then
    log "SKIP_APT=1: not checking system packages"
    return
  fi
  local wanted=(chromium chromium-driver dicom3tools) missing=() pkg
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    log "system packages present"
    return
  fi
  if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null; then
    log "WARNING: missing system packages: ${missing[*]} (install them as root; browser tests need chromium)"
    return
  fi
  log "installing system packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# True when every NAME==VERSION pin in requirements.txt is installed in .venv at that version.
venv_satisfies_pins() {
  .venv/bin/python - <<'PY'
import re
import sys
from importlib import metadata

def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

installed = {norm(d.metadata["Name"]): d.version for d in metadata.distributions()}
for line in open("requirements.txt"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, sep, version = line.partition("==")
    have = installed.get(norm(name.split("[")[0]))
    # A local label (torch 2.14.1+cpu) satisfies ==2.14.1, as in pip.
    if not sep or have is None or have.split("+")[0] != version.strip():
        sys.exit(1)
PY
}

install_python_packages() {
  local python="${PYTHON:-python3}"
  if [[ ! -x .venv/bin/python ]]; then
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { log "ERROR: $python is older than Python 3.11"; exit 1; }
    log "creating .venv with $($python --version)"
    "$python" -m venv .venv
  fi
  local stamp=.venv/.requirements.sha256 want
  want="$(hash_of requirements.txt)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "python packages up to date"
    return
  fi
  if venv_satisfies_pins; then
    log "python packages already match requirements.txt; stamping"
  else
    log "installing python packages (first time: several minutes, torch is large)"
    .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
  fi
  echo "$want" >"$stamp"
}

install_frontend() {
  command -v npm >/dev/null || { log "ERROR: npm not found (Node 20.19+ is needed)"; exit 1; }
  local stamp=frontend/node_modules/.package-lock.sha256 want
  want="$(hash_of frontend/package-lock.json)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "node packages up to date"
  else
    log "installing node packages (npm ci)"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
  # Rebuild when any input of the build changed, or when the output is missing.
  local build_stamp=static/dist/.build.sha256 inputs
  inputs="$(cd frontend && find src package.json package-lock.json tsconfig.json vite.config.ts -type f | LC_ALL=C sort)"
  # Names are hashed with contents, so a renamed or deleted file also triggers a build.
  want="$(cd frontend && sha256sum $inputs | sha256sum | cut -d' ' -f1)"
  if [[ -f "$build_stamp" && "$(cat "$build_stamp")" == "$want" && -f static/dist/.vite/manifest.json ]]; then
    log "frontend build up to date"
  else
    log "building frontend into static/dist"
    (cd frontend && npm run --silent build)
    echo "$want" >"$build_stamp"
  fi
}

install_system_packages
install_python_packages
install_frontend
log "done"
