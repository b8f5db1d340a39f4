"""The console port's limits (issue 16): bodies at most 64 KiB, a session before any body is
read, a whole request within 10 s, the login only as JSON, and a bounded share of connections
per client address."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from admin_api import AdminApi


@pytest.fixture(scope="module")
def console(server):
    return server


def raw_request(server, head: bytes, body: bytes = b"", read_timeout: float = 30.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.console_port), timeout=read_timeout) as sock:
        sock.sendall(head + body)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_bodies_are_bounded_and_need_a_session_first(console):
    api = AdminApi(console)
    big = b"{" + b" " * (64 * 1024) + b"}"
    answer = api.call("POST", "/tenants", data=big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "BodyTooLarge"
    # Without a session, nothing but the login reads a body: 401 at once, connection closed.
    head = (f"POST /api/v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: 1000000\r\n\r\n").encode()
    started = time.monotonic()
    reply = raw_request(console, head, b"{", read_timeout=15)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    assert time.monotonic() - started < 5


def test_a_request_must_arrive_within_ten_seconds(console):
    api = AdminApi(console)
    head = (f"POST /api/v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n").encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", console.console_port), timeout=30) as sock:
        sock.sendall(head + b'{"name":')
        # Dribble a byte every 2 s: each read makes progress, the whole request does not.
        reply = b""
        for _ in range(12):
            time.sleep(2)
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(0.01)
            try:
                reply += sock.recv(65536)
            except (socket.timeout, BlockingIOError):
                pass
            if reply:
                break
        sock.settimeout(10)
        try:
            reply += sock.recv(65536)
        except socket.timeout:
            pass
    elapsed = time.monotonic() - started
    assert b" 408 " in reply.split(b"\r\n", 1)[0], reply[:200]
    assert 9 <= elapsed <= 16, elapsed


def test_login_only_as_json(console):
    base = console.console_endpoint + "/api/v1/auth/login"
    form = requests.post(base, data={"username": console.access_key, "password": console.secret_key}, timeout=30)
    assert form.status_code == 415 and form.json()["error"]["code"] == "UnsupportedMediaType"
    ok = requests.post(base, json={"username": console.access_key, "password": console.secret_key},
                       headers={"Content-Type": "Application/JSON; charset=utf-8"}, timeout=30)
    assert ok.status_code == 200, ok.text


def test_one_address_holds_a_bounded_share_of_connections(console):
    held = []
    try:
        for _ in range(256):
            held.append(socket.create_connection(("127.0.0.1", console.console_port), timeout=10))
        # The next one is accepted and closed at once: its request gets no answer.
        extra = socket.create_connection(("127.0.0.1", console.console_port), timeout=10)
        extra.settimeout(10)
        try:
            extra.sendall(b"GET /api/v1/auth/session HTTP/1.1\r\nHost: x\r\n\r\n")
            data = extra.recv(1024)
        except OSError:
            data = b""
        extra.close()
        assert data == b"", data[:100]
    finally:
        for sock in held:
            sock.close()
    # Once they are gone, the address is served again.
    deadline = time.monotonic() + 10
    while True:
        try:
            AdminApi(console)
            break
        except (AssertionError, requests.ConnectionError):
            assert time.monotonic() < deadline
            time.sleep(0.2)
