#!/usr/bin/env python3
"""Make the operator's Grafana dashboard, charts/hostrisk-operator/files/dashboards/hostrisk-operator.json.

The panels are listed here once, as rows of (title, kind, queries); layout (gridPos), panel ids,
datasources and the template variables are derived, so every panel queries the `datasource`
variable and filters by `job` (and per-watch panels by `namespace` and `watch`).

    grafana-dashboard.py            # print the JSON
    grafana-dashboard.py --write    # write it into the chart
    grafana-dashboard.py --check    # exit 1 and show a diff when the chart's file is stale

Standard library only. tests/dashboard.rs runs --check and evaluates every query in a real Prometheus.
"""

from __future__ import annotations

import argparse
import difflib
import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
TARGET = REPO / "charts" / "hostrisk-operator" / "files" / "dashboards" / "hostrisk-operator.json"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
JOB = 'job=~"$job"'
WATCH = 'job=~"$job", namespace=~"$namespace", name=~"$watch"'
RATE = "$__rate_interval"


def per_watch(metric: str, match: str = "", by: str = "") -> str:
    """A per-watch series, once per watch whichever pod exported it (a rollout overlaps two)."""
    matchers = WATCH + (f", {match}" if match else "")
    labels = "namespace, name" + (f", {by}" if by else "")
    return f"max by ({labels}) ({metric}{{{matchers}}})"


def total(metric: str, match: str = "") -> str:
    return f"sum({per_watch(metric, match)})"


def by_category(metric: str, label: str) -> str:
    return f"sum by ({label}) ({per_watch(metric, by=label)})"


def rate(metric: str, by: str = "", match: str = "") -> str:
    matchers = JOB + (f", {match}" if match else "")
    rated = f"rate({metric}{{{matchers}}}[{RATE}])"
    return f"sum by ({by}) ({rated})" if by else f"sum({rated})"


def p99(histogram: str, by: str = "") -> str:
    labels = (by + ", le") if by else "le"
    return f"histogram_quantile(0.99, sum by ({labels}) (rate({histogram}_bucket{{{JOB}}}[{RATE}])))"


def q(expr: str, legend: str = "", instant: bool = False, table: bool = False) -> dict:
    return {"expr": expr, "legend": legend, "instant": instant, "table": table}


def stat(title: str, expr: str, description: str, unit: str = "none", legend: str = "", thresholds=None,
         text_mode: str = "auto") -> dict:
    return {"title": title, "type": "stat", "width": 4, "height": 4, "unit": unit,
            "description": description, "queries": [q(expr, legend, instant=True)],
            "thresholds": thresholds, "text_mode": text_mode}


def series(title: str, queries: list[dict], description: str, unit: str = "none", width: int = 8,
           height: int = 8, stack: bool = False) -> dict:
    return {"title": title, "type": "timeseries", "width": width, "height": height, "unit": unit,
            "description": description, "queries": queries, "stack": stack}


def table(title: str, queries: list[dict], description: str, rename: dict, height: int = 9) -> dict:
    return {"title": title, "type": "table", "width": 24, "height": height, "description": description,
            "queries": queries, "rename": rename}


RED_ABOVE_ZERO = [("green", None), ("red", 1)]
WATCH_LEGEND = "{{namespace}}/{{name}}"

ROWS = [
    ("Posture", [
        stat("Hosts watched", total("hostrisk_watch_hosts_requested"),
             "Host ids the selected watches list (or their Nodes have)."),
        stat("Hosts not found", total("hostrisk_watch_hosts_not_found"),
             "Host ids HSS returns nothing for: deleted servers, wrong ids, another enterprise project.",
             thresholds=[("green", None), ("orange", 1)]),
        stat("Hosts at risk", total("hostrisk_watch_hosts_by_detect_result", 'detect_result="risk"'),
             "Hosts whose HSS detect result is risk (vulnerabilities, baseline risks or intrusions).",
             thresholds=[("green", None), ("orange", 1)]),
        stat("Intrusions", total("hostrisk_watch_risks", 'kind="intrusion"'),
             "Intrusions HSS reports over the selected watches' hosts.", thresholds=RED_ABOVE_ZERO),
        stat("Protection coverage",
             total("hostrisk_watch_hosts_by_protect_status", 'protect_status="opened"')
             + " / " + total("hostrisk_watch_hosts_found"),
             "Share of the hosts HSS knows whose protection is opened.", unit="percentunit",
             thresholds=[("red", None), ("orange", 0.9), ("green", 0.99)]),
        stat("Agents offline", total("hostrisk_watch_hosts_by_agent_status", 'agent_status="offline"'),
             "Hosts whose HSS agent is offline: their data is not current.",
             thresholds=[("green", None), ("orange", 1)]),
    ]),
    ("Trends", [
        series("Hosts by agent status", [q(by_category("hostrisk_watch_hosts_by_agent_status", "agent_status"),
                                           "{{agent_status}}")],
               "HSS agent status of the watched hosts over time.", stack=True),
        series("Hosts by protection status",
               [q(by_category("hostrisk_watch_hosts_by_protect_status", "protect_status"), "{{protect_status}}")],
               "HSS protection status of the watched hosts over time.", stack=True),
        series("Hosts by detect result",
               [q(by_category("hostrisk_watch_hosts_by_detect_result", "detect_result"), "{{detect_result}}")],
               "HSS detect result of the watched hosts over time.", stack=True),
        series("Risks by kind", [q(by_category("hostrisk_watch_risks", "kind"), "{{kind}}")],
               "Vulnerabilities, baseline risks and intrusions over the watched hosts.", width=12),
        series("Assets", [q(total("hostrisk_watch_assets"), "assets")],
               "Inventory items HSS reports over the watched hosts (accounts, ports, processes, software).",
               width=12),
    ]),
    ("Watches", [
        table("Watches", [
            q(per_watch("hostrisk_watch_condition", 'type="Ready"', by="status") + " == 1", instant=True, table=True),
            q(per_watch("hostrisk_watch_ready_reason", by="reason"), instant=True, table=True),
            q(f'time() - {per_watch("hostrisk_watch_last_success_timestamp_seconds")}', instant=True, table=True),
            q(per_watch("hostrisk_watch_hosts_by_detect_result", 'detect_result="risk"'), instant=True, table=True),
            q(per_watch("hostrisk_watch_hosts_by_agent_status", 'agent_status="offline"'), instant=True, table=True),
            q(per_watch("hostrisk_watch_hosts_by_protect_status", 'protect_status="closed"'), instant=True,
              table=True),
        ], "One line per watch: its Ready condition and reason, the age of its data, and its hosts at risk, "
           "with an offline agent and with protection closed.",
            rename={"status": "Ready", "reason": "Reason", "Value #C": "Data age", "Value #D": "At risk",
                    "Value #E": "Agent offline", "Value #F": "Protection closed"}),
    ]),
    ("Freshness", [
        series("Data age / effective interval",
               [q(f'(time() - {per_watch("hostrisk_watch_last_success_timestamp_seconds")})'
                  f' / {per_watch("hostrisk_watch_effective_interval_seconds")}', WATCH_LEGEND)],
               "How many effective intervals ago each watch's data was fetched; above 2 it is stale.",
               width=12),
        series("Interval lag", [q(per_watch("hostrisk_watch_interval_lag_seconds"), WATCH_LEGEND)],
               "How much longer than asked each watch waits between refreshes (the HSS quota).", unit="s",
               width=12),
        series("Quota use", [q(f'max by (credential) (hostrisk_hss_quota_calls{{{JOB}}})'
                               f' / max by (credential) (hostrisk_hss_quota_limit{{{JOB}}})', "{{credential}}")],
               "HSS calls in the current quota window per credential identity, as a share of the limit.",
               unit="percentunit"),
        series("Poller queue depth", [q(f'max by (group) (hostrisk_poller_queue_depth{{{JOB}}})', "{{group}}")],
               "Watches of each poller group due for a refresh that has not completed yet."),
        series("Sweep duration", [q(f'max by (group) (hostrisk_poller_sweep_duration_seconds{{{JOB}}})',
                                    "{{group}}")],
               "How long each poller group's last full sweep (every watch refreshed once) took.", unit="s"),
    ]),
    ("Operator", [
        stat("Targets up", f'sum(up{{{JOB}}})', "Scrape targets of the operator's job that answer.",
             thresholds=[("red", None), ("green", 1)]),
        stat("Leaders", f'sum(hostrisk_leader{{{JOB}}})',
             "Replicas holding the leader-election Lease (or running without it): 1 expected.",
             thresholds=[("red", None), ("green", 1), ("orange", 2)]),
        stat("Ready replicas", f'sum(hostrisk_ready{{{JOB}}})', "Replicas whose /readyz answers 200.",
             thresholds=[("red", None), ("green", 1)]),
        stat("Version", f'count by (version) (hostrisk_build_info{{{JOB}}})',
             "Versions of the operator running.", legend="{{version}}", text_mode="name"),
        stat("Watches", f'count(count by (namespace, name) (hostrisk_watch_condition{{{WATCH}}}))',
             "HostRiskWatches the selected operator serves."),
        stat("Status write errors", rate("hostrisk_status_write_errors_total"),
             "Status patches the API server refused, per second.", unit="reqps",
             thresholds=[("green", None), ("red", 0.001)]),
        series("Reconciles", [q(rate("hostrisk_reconciles_total", by="result"), "{{result}}")],
               "Reconciles per second by result.", unit="ops"),
        series("Reconcile errors by reason", [q(rate("hostrisk_reconcile_errors_total", by="reason"), "{{reason}}")],
               "Failed reconciles per second by reason (the operator's log says more).", unit="ops"),
        series("Reconcile duration p99", [q(p99("hostrisk_reconcile_duration_seconds"), "p99")],
               "99th percentile of the wall time of one reconcile.", unit="s"),
        series("Status writes", [
            q(rate("hostrisk_status_writes_total"), "written"),
            q(rate("hostrisk_status_writes_skipped_total"), "skipped (unchanged)"),
            q(rate("hostrisk_status_write_errors_total"), "refused"),
        ], "Status patches sent, skipped because only timestamps changed, and refused by the API server.",
            unit="ops", width=24, height=7),
    ]),
    ("HSS API", [
        series("Requests by outcome and code",
               [q(rate("hostrisk_hss_requests_total", by="operation, outcome, code"),
                  "{{operation}} {{outcome}} {{code}}")],
               "HSS and IAM requests per second, every attempt (retries included).", unit="reqps", width=12),
        series("Latency p99 by operation",
               [q(p99("hostrisk_hss_request_duration_seconds", by="operation"), "{{operation}}")],
               "99th percentile of answered requests (429s and requests without an answer are not timed).",
               unit="s", width=12),
        series("Retries", [q(rate("hostrisk_hss_retries_total"), "retries")],
               "HSS requests repeated after a retryable failure, per second.", unit="reqps"),
        series("Throttled (429)", [q(rate("hostrisk_hss_requests_total", by="operation", match='outcome="throttled"'),
                                     "{{operation}}")],
               "Requests HSS or IAM refused with 429 (quota exceeded), per second.", unit="reqps"),
        series("Quota wait p99", [q(p99("hostrisk_hss_quota_wait_seconds"), "p99")],
               "99th percentile of the time a call waited for the per-credential rate limiter.", unit="s"),
    ]),
    ("Hosts (needs --metrics-per-host)", [
        table("Hosts", [
            q(per_watch("hostrisk_host_status", by="host_id, node, agent_status, protect_status, detect_result"),
              instant=True, table=True),
            q(per_watch("hostrisk_host_risks", 'kind="vulnerability"', by="host_id"), instant=True, table=True),
            q(per_watch("hostrisk_host_risks", 'kind="intrusion"', by="host_id"), instant=True, table=True),
        ], "Per-host series, exported only with --metrics-per-host (chart value controller.metricsPerHost).",
            rename={"Value #B": "Vulnerabilities", "Value #C": "Intrusions"}),
    ]),
]


def thresholds(steps) -> dict:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def target(query: dict, index: int) -> dict:
    out = {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": query["expr"],
        "legendFormat": query["legend"] or "__auto",
        "range": not query["instant"],
        "instant": query["instant"],
        "refId": chr(ord("A") + index),
    }
    if query["table"]:
        out["format"] = "table"
    return out


def panel(spec: dict, panel_id: int, x: int, y: int) -> dict:
    out = {
        "id": panel_id,
        "type": spec["type"],
        "title": spec["title"],
        "description": spec["description"],
        "datasource": DATASOURCE,
        "gridPos": {"h": spec["height"], "w": spec["width"], "x": x, "y": y},
        "targets": [target(query, i) for i, query in enumerate(spec["queries"])],
    }
    defaults: dict = {"unit": spec.get("unit", "none")}
    if spec["type"] == "stat":
        defaults["thresholds"] = thresholds(spec["thresholds"] or [("blue", None)])
        out["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "value", "graphMode": "none", "textMode": spec["text_mode"]}
    elif spec["type"] == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                              "stacking": {"mode": "normal" if spec.get("stack") else "none", "group": "A"}}
        out["options"] = {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]},
                          "tooltip": {"mode": "multi", "sort": "desc"}}
    elif spec["type"] == "table":
        hidden = {"Time": True}
        for i in range(len(spec["queries"])):
            name = f"Value #{chr(ord('A') + i)}"
            if name not in spec["rename"]:
                hidden[name] = True
        out["transformations"] = [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": hidden, "renameByName": spec["rename"]}},
        ]
        out["options"] = {"showHeader": True, "cellHeight": "sm"}
        out["fieldConfig"] = {"defaults": {"unit": "none"}, "overrides": [
            {"matcher": {"id": "byName", "options": "Data age"},
             "properties": [{"id": "unit", "value": "s"}]},
        ]}
        return out
    out["fieldConfig"] = {"defaults": defaults, "overrides": []}
    return out


def layout() -> list[dict]:
    panels, panel_id, y = [], 1, 0
    for title, specs in ROWS:
        panels.append({"id": panel_id, "type": "row", "title": title, "collapsed": False,
                       "datasource": DATASOURCE, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        panel_id += 1
        y += 1
        x, row_height = 0, 0
        for spec in specs:
            if x + spec["width"] > 24:
                x, y, row_height = 0, y + row_height, 0
            panels.append(panel(spec, panel_id, x, y))
            panel_id += 1
            x += spec["width"]
            row_height = max(row_height, spec["height"])
        y += row_height
    return panels


def variable(name: str, label: str, query: str, all_value: bool) -> dict:
    out = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "current": {},
        "options": [],
    }
    if all_value:
        out.update({"includeAll": True, "multi": True, "allValue": ".*"})
    else:
        out.update({"includeAll": False, "multi": False})
    return out


def dashboard() -> dict:
    return {
        "title": "HostRisk operator",
        "uid": "hostrisk-operator",
        "description": "HSS host posture of the HostRiskWatches and the health of the operator that mirrors it "
                       "(hostrisk-operator chart, files/dashboards/hostrisk-operator.json).",
        "tags": ["hostrisk", "hss", "security", "operator"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "",
        "version": 1,
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
             "regex": ""},
            variable("job", "Job", "label_values(hostrisk_build_info, job)", all_value=False),
            variable("namespace", "Namespace", 'label_values(hostrisk_watch_condition{job=~"$job"}, namespace)',
                     all_value=True),
            variable("watch", "Watch",
                     'label_values(hostrisk_watch_condition{job=~"$job", namespace=~"$namespace"}, name)',
                     all_value=True),
        ]},
        "annotations": {"list": []},
        "links": [],
        "panels": layout(),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.write:
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        TARGET.write_text(text)
    elif args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True),
                str(TARGET), "scripts/grafana-dashboard.py"))
            print(f"{TARGET} is stale: run scripts/grafana-dashboard.py --write", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
