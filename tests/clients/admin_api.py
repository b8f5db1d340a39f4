"""A small client of the admin API (`/api/v1` on the console port) for tests:
log in, call, and set up tenants with a user and an access key."""

from __future__ import annotations

import requests

from helpers import make_client


class AdminApi:
    """One logged-in session (bearer token)."""

    def __init__(self, server, username: str | None = None, password: str | None = None):
        self.base = server.console_endpoint + "/api/v1"
        self.server = server
        username = username or server.access_key
        password = password or server.secret_key
        answer = requests.post(f"{self.base}/auth/login", json={"username": username, "password": password}, timeout=30)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["token"]

    def call(self, method: str, path: str, expect: int | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        headers["Authorization"] = f"Bearer {self.token}"
        answer = requests.request(method, self.base + path, headers=headers, timeout=60, **kw)
        if expect is not None:
            assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer

    def tenant_with_key(self, name: str, quota: dict | None = None, role: str = "tenant-admin", **tenant_fields):
        """Creates tenant `name` with a user `admin` of `role` and returns (tenant json, boto3 s3 client, key)."""
        body = {"name": name, **tenant_fields}
        if quota is not None:
            body["quota"] = quota
        tenant = self.call("POST", "/tenants", expect=201, json=body).json()
        self.call("POST", f"/tenants/{name}/users", expect=201,
                  json={"name": "admin", "role": role, "password": "correct horse battery"})
        key = self.call("POST", f"/tenants/{name}/users/admin/keys", expect=201).json()
        client = make_client(self.server.endpoint, key["access_key_id"], key["secret_access_key"], "path")
        return tenant, client, key

    def usage(self, tenant: str) -> dict:
        return self.call("GET", f"/usage?tenant={tenant}", expect=200).json()["tenants"][0]
