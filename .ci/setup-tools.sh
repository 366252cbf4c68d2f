#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, idempotently (a second run changes nothing):
#   - lua5.1 (Debian): runs the Argo CD health check tests (tests/argocd/).
#   - .venv with .ci/requirements-test.txt (PyPI): Helm's engine for the chart tests (tests/chart.rs).
# Runs as root (apt-get); set SKIP_APT=1 to skip the apt step where lua5.1 comes from elsewhere.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$repo/.ci/requirements-test.txt"
venv="$repo/.venv"

if ! command -v lua5.1 >/dev/null 2>&1 && [ "${SKIP_APT:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they do not know lua5.1 yet.
  if ! apt-cache show lua5.1 >/dev/null 2>&1; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends lua5.1 >/dev/null
fi
command -v lua5.1 >/dev/null 2>&1 || { echo "setup-tools: lua5.1 is missing" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# Install only when the requirements changed since the last successful install.
stamp="$venv/.requirements-test.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import helm_python, yaml, huaweicloudsdkcore, huaweicloudsdkhss' || { echo "setup-tools: .venv lacks a package of .ci/requirements-test.txt" >&2; exit 1; }
echo "setup-tools: lua5.1 $(command -v lua5.1), python $venv/bin/python (helm $("$venv/bin/python" -c 'import helm_python as h; print(h.helm_sdk_version())'))"
