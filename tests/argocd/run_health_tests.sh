#!/usr/bin/env bash
# Runs deploy/argocd/health.lua against the cases in deploy/argocd/health_test.yaml (or the file given)
# with a Lua 5.1 interpreter, as Argo CD would. Needs `lua5.1` (Debian package lua5.1) and PyYAML
# (in .venv; see .ci/setup-tools.sh). Exits non-zero on any mismatch.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
test_file="${1:-$repo/deploy/argocd/health_test.yaml}"
script="${HEALTH_SCRIPT:-$repo/deploy/argocd/health.lua}"
python="${HOSTRISK_PYTHON:-$repo/.venv/bin/python}"
lua="${LUA:-lua5.1}"

command -v "$lua" >/dev/null || { echo "error: $lua not found; run .ci/setup-tools.sh (apt-get install lua5.1)" >&2; exit 1; }
[ -x "$python" ] || { echo "error: $python not found; run .ci/setup-tools.sh to create .venv" >&2; exit 1; }

cases="$(mktemp)"
trap 'rm -f "$cases"' EXIT
"$python" "$repo/tests/argocd/yaml_to_lua.py" "$test_file" > "$cases"
"$lua" "$repo/tests/argocd/run_health_tests.lua" "$script" "$cases"
