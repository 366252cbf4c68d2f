#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, idempotently (a second run changes nothing):
#   - lua5.1 (Debian): runs the Argo CD health check tests (tests/argocd/).
#   - prometheus (Debian): `promtool` checks and unit-tests the chart's alert rules, and the `prometheus`
#     server evaluates them against a running operator (tests/alerts.rs). Installed without starting its
#     service: the tests start their own server on a free loopback port.
#   - busybox (Debian): runs the chart's `helm test` script with the same sh, timeout and wget applets as
#     the test Pod's busybox image (tests/chart/readyz_script.rs).
#   - .venv with .ci/requirements-test.txt (PyPI): Helm's engine for the chart tests (tests/chart.rs).
# Runs as root (apt-get); set SKIP_APT=1 to skip the apt step where lua5.1 and prometheus come from elsewhere.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$repo/.ci/requirements-test.txt"
venv="$repo/.venv"

# Debian packages whose command is missing: command name -> package name.
missing=()
for pair in lua5.1:lua5.1 promtool:prometheus prometheus:prometheus busybox:busybox; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ] && [ "${SKIP_APT:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they do not know a package yet.
  for package in "${missing[@]}"; do
    if ! apt-cache show "$package" >/dev/null 2>&1; then
      apt-get update -qq
      break
    fi
  done
  # No package may start a service (Debian's prometheus would listen on :9090): policy-rc.d answers
  # "forbidden" to every start request while we install, unless the machine already has one.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    made_policy=1
  fi
  trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
  # printf '%s\n' ... | sort -u: prometheus is listed twice (promtool and the server).
  mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then
    rm -f "$policy"
  fi
  trap - EXIT
fi
for tool in lua5.1 promtool prometheus busybox; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup-tools: $tool is missing" >&2; exit 1; }
done

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
echo "setup-tools: lua5.1 $(command -v lua5.1), $(promtool --version 2>&1 | head -n 1), python $venv/bin/python (helm $("$venv/bin/python" -c 'import helm_python as h; print(h.helm_sdk_version())'))"
