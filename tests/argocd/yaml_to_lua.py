#!/usr/bin/env python3
"""Turn an Argo CD health_test.yaml and its testdata into one Lua 5.1 chunk for run_health_tests.lua.

    yaml_to_lua.py deploy/argocd/health_test.yaml > cases.lua

The chunk returns a list of {input = path, expected = {status, message}, obj = <resource as a table>}.
Argo CD hands the Lua script the resource as decoded JSON, so timestamps stay strings here too.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import yaml


class JsonLikeLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: an unquoted time stays a string, as in the API's JSON."""


JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def lua_string(text: str) -> str:
    out = ['"']
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def lua_value(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(item) for item in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_string(str(k))}] = {lua_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot express {type(value).__name__} in Lua")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    test_file = pathlib.Path(sys.argv[1])
    spec = yaml.load(test_file.read_text(), Loader=JsonLikeLoader)
    tests = spec.get("tests") if isinstance(spec, dict) else None
    if not tests:
        print(f"{test_file}: no `tests:` list", file=sys.stderr)
        return 1
    cases = []
    for index, test in enumerate(tests):
        input_path = test.get("inputPath")
        expected = test.get("healthStatus") or {}
        if not input_path or "status" not in expected:
            print(f"{test_file}: test {index} needs inputPath and healthStatus.status", file=sys.stderr)
            return 1
        obj = yaml.load((test_file.parent / input_path).read_text(), Loader=JsonLikeLoader)
        cases.append({"input": input_path, "expected": expected, "obj": obj})
    sys.stdout.write("return " + lua_value(cases) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
