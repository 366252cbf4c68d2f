#!/usr/bin/env python3
"""Make the values table of charts/hostrisk-operator/README.md from the chart's values.yaml.

helm-docs style: a key preceded by a comment block whose first line starts with `# -- ` is a row;
the rest of the block continues the description. Blocks without `# --` (section comments) are not
rows. Defaults come from the parsed YAML, types from the values.

    chart-values-table.py            # print the table
    chart-values-table.py --write    # replace the table in the README (between the markers)
    chart-values-table.py --check    # exit 1 and show a diff when the README's table is stale

Uses PyYAML from the test venv (.ci/setup-tools.sh).
"""

from __future__ import annotations

import argparse
import difflib
import json
import pathlib
import re
import sys
from typing import Any

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "hostrisk-operator"
BEGIN = "<!-- values-table:begin (scripts/chart-values-table.py --write) -->"
END = "<!-- values-table:end -->"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")


def described_keys(text: str) -> list[tuple[str, str]]:
    """(dotted key, description) of every key with a `# --` comment block, in file order."""
    rows = []
    path: list[tuple[int, str]] = []
    comment: list[str] = []
    comment_indent = -1
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            indent = len(line) - len(line.lstrip())
            if not comment or indent != comment_indent:
                comment, comment_indent = [], indent
            comment.append(stripped.lstrip("#").strip())
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("-"):
            comment = []
            continue
        indent = len(match["indent"])
        while path and path[-1][0] >= indent:
            path.pop()
        path.append((indent, match["key"]))
        if comment and comment[0].startswith("-- ") and comment_indent == indent:
            description = " ".join([comment[0][3:]] + comment[1:]).strip()
            rows.append((".".join(k for _, k in path), description))
        comment = []
    return rows


def lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return node


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def cell(text: str) -> str:
    """Escapes pipes, and angle brackets outside code spans (Markdown would read <release> as HTML)."""
    parts = text.replace("|", "\\|").split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def table(values_yaml: str) -> str:
    values = yaml.safe_load(values_yaml)
    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for key, description in described_keys(values_yaml):
        value = lookup(values, key)
        default = json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
        default = default.replace("|", "\\|")
        lines.append(f"| `{key}` | {type_name(value)} | `{default}` | {cell(description)} |")
    return "\n".join(lines) + "\n"


def with_table(readme: str, rendered: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README lacks the markers {BEGIN!r} ... {END!r}")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{rendered}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update the README")
    mode.add_argument("--check", action="store_true", help="fail when the README is stale")
    parser.add_argument("--chart", type=pathlib.Path, default=CHART)
    args = parser.parse_args()
    rendered = table((args.chart / "values.yaml").read_text())
    readme_path = args.chart / "README.md"
    if not (args.write or args.check):
        sys.stdout.write(rendered)
        return 0
    readme = readme_path.read_text()
    wanted = with_table(readme, rendered)
    if args.write:
        readme_path.write_text(wanted)
        return 0
    if wanted != readme:
        diff = difflib.unified_diff(
            readme.splitlines(keepends=True), wanted.splitlines(keepends=True), "README.md", "from values.yaml"
        )
        sys.stdout.writelines(diff)
        print("\nThe values table is stale: run scripts/chart-values-table.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
