#!/usr/bin/env python3
"""Lint and render the hostrisk-operator Helm chart with Helm's own Go engine.

Uses PyPI `helm-python-sdk`, which binds Helm v4's Go SDK (chart loader, values
coalescing, JSON-schema validation, template engine and linter) as a shared
library: no `helm` binary and no cluster are needed.

    render-chart.py lint   [-f values.yaml ...]           # helm lint --strict
    render-chart.py render [-f values.yaml ...]           # helm template, YAML on stdout
    render-chart.py all    [--out DIR]                    # every value set in tests/chart/values
                                                          # + every invalid set in tests/chart/invalid
    render-chart.py install --kube-version V [-f ...]     # helm install --dry-run=client --kube-version V:
                                                          # Helm's install action, which refuses a chart whose
                                                          # kubeVersion excludes V; the manifest on stdout
    render-chart.py durations TABLE                       # each value of a duration table (lines
                                                          # `VALUE<TAB>valid|invalid`) in every duration
                                                          # field of the chart: `VALUE<TAB>FIELD<TAB>accepted|rejected`

`render` and `lint` exit 1 with the engine's message on stderr when the values
are rejected (schema) or a template fails, so callers can test rejections.
`render`, `notes` and `install` take `--release NAME` (default hostrisk-operator).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

import helm_python as helm
import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "hostrisk-operator"
VALUE_SETS = REPO / "tests" / "chart" / "values"
INVALID_SETS = REPO / "tests" / "chart" / "invalid"
RELEASE = "hostrisk-operator"
NAMESPACE = "hostrisk-system"
SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


class ChartError(Exception):
    """The engine refused the chart or the values."""


def load_values(files: list[pathlib.Path]) -> dict[str, Any]:
    """Merge value files left to right like `helm -f a.yaml -f b.yaml` (maps merge, the rest is replaced)."""
    merged: dict[str, Any] = {}
    for path in files:
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ChartError(f"{path}: values must be a mapping")
        merged = deep_merge(merged, loaded)
    return merged


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def lint(chart: pathlib.Path, values: dict[str, Any]) -> list[str]:
    """`helm lint --strict`: returns the findings; raises ChartError if any is a warning or an error."""
    report = helm.lint(str(chart), values, strict=True, namespace=NAMESPACE)
    lines = [
        f"[{SEVERITY.get(m['severity'], m['severity'])}] {m['path']}: {m['error'].strip()}"
        for m in report.get("messages", [])
    ]
    failing = [m for m in report.get("messages", []) if m["severity"] >= 2] or report.get("errors")
    if failing:
        raise ChartError("helm lint failed:\n" + "\n".join(lines))
    return lines


def render(chart: pathlib.Path, values: dict[str, Any], release: str = RELEASE) -> str:
    """`helm template`: every non-empty rendered manifest, sorted by template path, as one YAML stream."""
    try:
        with helm.Chart.load(str(chart)) as loaded:
            manifests = loaded.render(values=values, name=release, namespace=NAMESPACE, is_install=True)
    except helm.HelmError as err:
        raise ChartError(str(err)) from err
    docs = []
    for path in sorted(manifests):
        if path.endswith("NOTES.txt"):
            continue
        for doc in manifests[path].split("\n---"):
            body = doc.strip("\n")
            if body.strip() and any(line.strip() and not line.lstrip().startswith("#") for line in body.splitlines()):
                docs.append(f"# Source: {path}\n{body.strip()}\n")
    return "---\n" + "---\n".join(docs)


def notes(chart: pathlib.Path, values: dict[str, Any], release: str = RELEASE) -> str:
    with helm.Chart.load(str(chart)) as loaded:
        manifests = loaded.render(values=values, name=release, namespace=NAMESPACE, is_install=True)
    return next((text for path, text in manifests.items() if path.endswith("NOTES.txt")), "")


# A kubeconfig for the client-side dry run: Helm's install action wants one, and with
# --dry-run=client it never connects (nothing listens on port 9 of loopback anyway).
OFFLINE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: offline, user: {token: unused}}]
contexts: [{name: offline, context: {cluster: offline, user: offline, namespace: %s}}]
current-context: offline
""" % NAMESPACE


def install_dry_run(chart: pathlib.Path, values: dict[str, Any], kube_version: str, release: str = RELEASE) -> str:
    """`helm install --dry-run=client --kube-version V`: the manifest Helm's install action renders for a
    cluster of version V, after checking the chart's kubeVersion against V (the check `helm install`
    makes on a real cluster, with the server's version). No cluster is contacted.

    helm-python-sdk's Config.install does not pass `kube_version`, which the C library's install options
    take, so the native call is made here with the same arguments plus that option."""
    from helm_python import _native  # the option is not exposed by the wrapper

    with helm.Config(kubeconfig_content=OFFLINE_KUBECONFIG, namespace=NAMESPACE, storage_driver="memory") as config:
        try:
            payload = _native.call_string(
                "helm_install",
                config._raw(),
                _native.HANDLE(0),
                _native.HANDLE(0),
                str(chart),
                release,
                json.dumps(values),
                json.dumps({"namespace": NAMESPACE, "dry_run": "client", "kube_version": kube_version}),
            )
        except helm.HelmError as err:
            raise ChartError(str(err)) from err
    return json.loads(payload).get("manifest", "")


def run_all(chart: pathlib.Path, out: pathlib.Path | None) -> int:
    failures = 0
    for path in sorted(VALUE_SETS.glob("*.yaml")):
        values = load_values([path])
        try:
            lint(chart, values)
            stream = render(chart, values)
        except ChartError as err:
            print(f"FAIL {path.stem}: {err}", file=sys.stderr)
            failures += 1
            continue
        count = stream.count("# Source:")
        print(f"ok   {path.stem}: lint clean, {count} objects")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{path.stem}.yaml").write_text(stream)
    for path in sorted(INVALID_SETS.glob("*.yaml")):
        values = load_values([path])
        try:
            render(chart, values)
        except ChartError as err:
            first = str(err).strip().splitlines()[-1]
            print(f"ok   invalid/{path.stem}: rejected ({first.strip()})")
            continue
        print(f"FAIL invalid/{path.stem}: rendered although the values are invalid", file=sys.stderr)
        failures += 1
    return 1 if failures else 0


# The chart values that are durations in the operator's grammar (values.schema.json `#/definitions/duration`).
DURATION_FIELDS = ("controller.defaultInterval", "controller.minInterval", "controller.statusHeartbeat")


def table_values(table: pathlib.Path) -> list[str]:
    """The VALUE column of a duration table: `#` lines and blank lines skipped, `""` is the empty string."""
    values = []
    for line in table.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        value = line.split("\t")[0]
        values.append("" if value == '""' else value)
    return values


def run_durations(chart: pathlib.Path, table: pathlib.Path) -> int:
    """Whether the engine's schema validation accepts each table value in each duration field."""
    for value in table_values(table):
        for field in DURATION_FIELDS:
            section, key = field.split(".")
            try:
                render(chart, {section: {key: value}})
                verdict = "accepted"
            except ChartError as err:
                # Only a schema refusal of this very field counts; anything else is reported as is.
                pointer = "/" + field.replace(".", "/")
                verdict = "rejected" if f"at '{pointer}'" in str(err) else f"error: {err}".replace("\n", " ")
            print(f"{value}\t{field}\t{verdict}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["lint", "render", "notes", "install", "all", "durations"])
    parser.add_argument("table", nargs="?", type=pathlib.Path, help="with `durations`: the table file")
    parser.add_argument("-f", "--values", action="append", type=pathlib.Path, default=[], help="values file")
    parser.add_argument("--chart", type=pathlib.Path, default=CHART)
    parser.add_argument("--out", type=pathlib.Path, help="with `all`: write <DIR>/<value set>.yaml")
    parser.add_argument("--release", default=RELEASE, help="release name (render, notes, install)")
    parser.add_argument("--kube-version", help="with `install`: the cluster's Kubernetes version, e.g. v1.30.0")
    args = parser.parse_args()
    helm.disable_logging()
    try:
        if args.command == "all":
            return run_all(args.chart, args.out)
        if args.command == "durations":
            if args.table is None:
                parser.error("durations needs a TABLE file")
            return run_durations(args.chart, args.table)
        values = load_values(args.values)
        if args.command == "lint":
            for line in lint(args.chart, values):
                print(line)
        elif args.command == "notes":
            sys.stdout.write(notes(args.chart, values, args.release))
        elif args.command == "install":
            if not args.kube_version:
                parser.error("install needs --kube-version")
            sys.stdout.write(install_dry_run(args.chart, values, args.kube_version, args.release))
        else:
            sys.stdout.write(render(args.chart, values, args.release))
    except ChartError as err:
        print(str(err).strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
