"""Builds ListHostsRisk requests with the official Huawei Cloud Python SDK and prints what it
would send, without sending anything.

Input (stdin): a JSON list of cases
  {"ak", "sk", "security_token"|null, "x_sdk_date", "endpoint", "project_id",
   "enterprise_project_id"|null, "host_ids": [...], "user_agent"}
or, with "mode": "sign", an already built request to sign with the SDK's own Signer:
  {"mode": "sign", "ak", "sk", "security_token"|null, "x_sdk_date", "method", "url",
   "headers": {name: value}}   (headers as the caller would send them, without Authorization)
Output (stdout): a JSON list, one object per case: {"url", "headers": {name: value}}.

The whole SDK pipeline runs (HssClient.list_hosts_risk -> query/path encoding -> credentials ->
Signer); only the clock is pinned and the HTTP send is intercepted at HttpClient.do_request_sync.
"""
import datetime as _dt
import json
import sys

from urllib.parse import unquote, urlsplit

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkcore.http.http_client import HttpClient
from huaweicloudsdkcore.http.http_config import HttpConfig
import huaweicloudsdkcore.signer.signer as signer_module
from huaweicloudsdkhss.v5 import HssClient, ListHostsRiskRequest


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def pinned_datetime(fixed):
    class Pinned(_dt.datetime):
        @classmethod
        def utcnow(cls):
            return fixed

        @classmethod
        def now(cls, tz=None):
            return fixed if tz is None else fixed.replace(tzinfo=tz)

    return Pinned


def capture(self, request):
    raise Captured(request)


def sign_only(case):
    """Signs a request built by someone else, as the gateway would verify it."""
    fixed = _dt.datetime.strptime(case["x_sdk_date"], "%Y%m%dT%H%M%SZ")
    signer_module.datetime = pinned_datetime(fixed)
    parts = urlsplit(case["url"])
    # Split on '&' and '=' and decode with unquote (not parse_qsl, which turns '+' into a space).
    pairs = []
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    headers = dict(case["headers"])
    request = SdkRequest(
        method=case["method"],
        schema=parts.scheme,
        host=parts.netloc,
        resource_path=parts.path,
        query_params=pairs,
        header_params=headers,
        body="",
    )
    credentials = BasicCredentials(case["ak"], case["sk"])
    if case.get("security_token"):
        credentials = credentials.with_security_token(case["security_token"])
    signed = Signer(credentials).sign(request)
    return {"url": case["url"], "headers": dict(signed.header_params)}


def build(case):
    if case.get("mode") == "sign":
        return sign_only(case)
    fixed = _dt.datetime.strptime(case["x_sdk_date"], "%Y%m%dT%H%M%SZ")
    signer_module.datetime = pinned_datetime(fixed)
    credentials = BasicCredentials(case["ak"], case["sk"], case["project_id"])
    if case.get("security_token"):
        credentials = credentials.with_security_token(case["security_token"])
    config = HttpConfig.get_default_config()
    config.user_agent = case.get("user_agent")
    client = (
        HssClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoint(case["endpoint"])
        .build()
    )
    request = ListHostsRiskRequest(host_id_list=case["host_ids"])
    if case.get("enterprise_project_id") is not None:
        request.enterprise_project_id = case["enterprise_project_id"]
    try:
        client.list_hosts_risk(request)
    except Captured as captured:
        sent = captured.request
        return {"url": sent.url, "headers": dict(sent.header_params)}
    raise RuntimeError("the SDK did not reach the HTTP layer")


def main():
    HttpClient.do_request_sync = capture
    cases = json.load(sys.stdin)
    json.dump([build(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
