"""The console's "Identity providers" panel (console-static/assets/js/pages/admin-identity-providers.js)
against a real server, in headless Chromium (the fixtures of test_console.py).

A tenant admin, on #/users, creates an LDAP provider through the form (its fields and a
group → role mapping), sees it listed with "bind password set" while no answer the browser gets
holds the password; edits it (a new user filter, the password field left empty: the server keeps
the stored password, which the admin API confirms); a filter the form's own check lets through
but the server refuses is said in the dialog (the one 400 of the test); then deletes it after the
confirmation. An OIDC provider made through the form is listed with its issuer and the console
shows the redirect URI to allow at the provider (an edit keeps a redirect_uri set through the
API). A system admin sees the same panel on #/tenants/<tenant>; users and read-only users do not
see it. Nothing else fails: no console error, no refused request.

No directory or OIDC provider runs here: creating, listing and changing a provider does not
contact it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from admin_api import AdminApi
from fed.support import own_server
from helpers import unique_bucket_name
from test_console import browser, consoles  # noqa: F401 - fixtures (headless Chromium)

PASSWORD = "Correct-Horse-Battery-9"
BIND_PASSWORD = "Bind-Secret-of-the-service-7"
OIDC_SECRET = "Oidc-Client-Secret-of-maxiofs-3"
LDAP_URL = "ldap://127.0.0.1:3389"
PEOPLE = "ou=people,dc=example,dc=org"
GROUPS = "ou=groups,dc=example,dc=org"
ADMINS_DN = "cn=s3-admins,ou=groups,dc=example,dc=org"
READERS_DN = "cn=s3-readers,ou=groups,dc=example,dc=org"


@pytest.fixture(scope="module")
def srv():
    yield from own_server(f"console-idp-{unique_bucket_name('s')[-6:]}")


@pytest.fixture(scope="module")
def root(srv) -> AdminApi:
    return AdminApi(srv)


def make_tenant(root: AdminApi, prefix: str) -> str:
    """A tenant with a tenant admin `boss`, a user `worker` and a read-only user `reader`."""
    tenant = prefix + unique_bucket_name("t")[-6:].replace("-", "")
    root.call("POST", "/tenants", expect=201, json={"name": tenant})
    for name, role in (("boss", "tenant-admin"), ("worker", "user"), ("reader", "read-only")):
        root.call("POST", f"/tenants/{tenant}/users", expect=201,
                  json={"name": name, "role": role, "password": PASSWORD})
    return tenant


def providers_of(root: AdminApi, tenant: str) -> dict[str, dict]:
    answer = root.call("GET", f"/tenants/{tenant}/identity-providers", expect=200)
    assert BIND_PASSWORD not in answer.text and OIDC_SECRET not in answer.text, answer.text
    assert '"bind_password"' not in answer.text and '"client_secret"' not in answer.text, answer.text
    return {p["name"]: p for p in answer.json()["identity_providers"]}


def is_provider_list(response) -> bool:
    return response.request.method == "GET" and response.url.endswith("/identity-providers")


def open_users_page(console):
    """#/users of a tenant admin, down to the identity providers panel."""
    console.goto("#/users")
    console.testid("provider-panel").wait_for()
    console.testid("provider-create").wait_for()


def fill_ldap_form(console, name: str, user_filter: str | None = None):
    console.testid("provider-create").click()
    dialog = console.testid("provider-dialog")
    dialog.wait_for()
    expect(console.testid("provider-type")).to_have_value("ldap")
    expect(console.testid("provider-ldap-fields")).to_be_visible()
    expect(console.testid("provider-oidc-fields")).to_be_hidden()
    # The form suggests the usual filters.
    expect(console.testid("provider-user-filter")).to_have_value("(uid={username})")
    expect(console.testid("provider-group-filter")).to_have_value("(member={user_dn})")
    console.testid("provider-name").fill(name)
    console.testid("provider-url").fill(LDAP_URL)
    console.testid("provider-start-tls").check()
    console.testid("provider-bind-dn").fill("cn=maxiofs,ou=services,dc=example,dc=org")
    console.testid("provider-bind-password").fill(BIND_PASSWORD)
    console.testid("provider-user-base-dn").fill(PEOPLE)
    if user_filter is not None:
        console.testid("provider-user-filter").fill(user_filter)
    console.testid("provider-group-base-dn").fill(GROUPS)
    console.testid("provider-nested-groups").check()
    console.testid("provider-timeout-ms").fill("3000")
    # One mapping row is there from the start; a second is added.
    rows = console.testid("provider-mapping-row")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).get_by_test_id("provider-mapping-kind")).to_be_hidden()  # groups only for LDAP
    rows.nth(0).get_by_test_id("provider-mapping-value").fill(ADMINS_DN)
    rows.nth(0).get_by_test_id("provider-mapping-role").select_option("tenant-admin")
    console.testid("provider-mapping-add").click()
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_test_id("provider-mapping-value").fill(READERS_DN)
    rows.nth(1).get_by_test_id("provider-mapping-role").select_option("read-only")
    return dialog


def test_a_tenant_admin_creates_edits_and_deletes_an_ldap_provider(srv, root, consoles):  # noqa: F811
    tenant = make_tenant(root, "idpldap")
    admin = consoles(srv, "tenant-admin")
    admin.sign_in(f"{tenant}/boss", PASSWORD)
    open_users_page(admin)
    expect(admin.testid("provider-empty")).to_be_visible()

    # Created through the form; the list the console reads back never holds the password.
    dialog = fill_ldap_form(admin, "corp")
    with admin.page.expect_response(is_provider_list) as listed:
        admin.testid("provider-submit").click()
    dialog.wait_for(state="detached")
    assert listed.value.status == 200
    listed_text = listed.value.text()
    assert BIND_PASSWORD not in listed_text and '"bind_password"' not in listed_text, listed_text
    assert [p["bind_password_set"] for p in listed.value.json()["identity_providers"]] == [True]

    row = admin.testid("provider-row-corp")
    row.wait_for()
    expect(row).to_contain_text("LDAP")
    expect(row).to_contain_text(LDAP_URL)
    expect(row).to_contain_text("StartTLS")
    expect(row).to_contain_text("bind password set")
    expect(row).to_contain_text(re.compile(re.escape(ADMINS_DN) + r"\s*→\s*tenant-admin"))
    expect(row).to_contain_text(re.compile(re.escape(READERS_DN) + r"\s*→\s*read-only"))
    assert BIND_PASSWORD not in admin.page.content()

    # What the server stored is what the form said.
    stored = providers_of(root, tenant)["corp"]
    expected = {
        "type": "ldap", "url": LDAP_URL, "start_tls": True, "bind_dn": "cn=maxiofs,ou=services,dc=example,dc=org",
        "bind_password_set": True, "user_base_dn": PEOPLE, "user_filter": "(uid={username})",
        "group_base_dn": GROUPS, "group_filter": "(member={user_dn})", "nested_groups": True,
        "timeout_ms": 3000, "ca_pem": None,
        "mappings": [{"group": ADMINS_DN, "role": "tenant-admin"}, {"group": READERS_DN, "role": "read-only"}],
    }
    assert {k: stored.get(k) for k in expected} == expected, stored
    one = root.call("GET", f"/tenants/{tenant}/identity-providers/{stored['id']}", expect=200)
    assert BIND_PASSWORD not in one.text and one.json()["bind_password_set"] is True, one.text

    # Edited: the form shows the stored values, an empty password field and that one is stored.
    admin.testid("provider-edit-corp").click()
    dialog = admin.testid("provider-dialog")
    dialog.wait_for()
    expect(admin.testid("provider-type")).to_be_disabled()
    expect(admin.testid("provider-name")).to_have_value("corp")
    expect(admin.testid("provider-url")).to_have_value(LDAP_URL)
    expect(admin.testid("provider-user-filter")).to_have_value("(uid={username})")
    expect(admin.testid("provider-timeout-ms")).to_have_value("3000")
    expect(admin.testid("provider-bind-password")).to_have_value("")
    expect(admin.testid("provider-bind-password-set")).to_contain_text("set")
    expect(admin.testid("provider-bind-password-set")).not_to_contain_text("not set")
    expect(admin.testid("provider-start-tls")).to_be_checked()
    expect(admin.testid("provider-nested-groups")).to_be_checked()
    rows = admin.testid("provider-mapping-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).get_by_test_id("provider-mapping-value")).to_have_value(ADMINS_DN)
    expect(rows.nth(0).get_by_test_id("provider-mapping-role")).to_have_value("tenant-admin")

    # A filter without {username}: the form says so itself, nothing is sent.
    requests_sent = []

    def on_request(request):
        if request.method in ("POST", "PATCH", "DELETE") and "/identity-providers" in request.url:
            requests_sent.append(request)

    admin.page.on("request", on_request)
    error = admin.testid("provider-dialog-error")
    admin.testid("provider-user-filter").fill("(mail=alice@example.org)")
    admin.testid("provider-submit").click()
    expect(error).to_have_text(re.compile(r"\{username\}"))
    assert requests_sent == [], [r.url for r in requests_sent]

    # One the form lets through but the server refuses (no parentheses): its 400 is shown in
    # words, the dialog stays open with what was typed, nothing changed.
    admin.expected_statuses = {400}
    with admin.page.expect_response(lambda r: r.request.method == "PATCH") as refused:
        admin.testid("provider-user-filter").fill("mail={username}")
        admin.testid("provider-submit").click()
    assert refused.value.status == 400, refused.value.text()
    expect(error).to_have_text(re.compile(r"user_filter must be a filter holding \{username\}.*InvalidRequest"))
    expect(dialog).to_be_visible()
    expect(admin.testid("provider-user-filter")).to_have_value("mail={username}")
    admin.expected_statuses = set()
    assert providers_of(root, tenant)["corp"]["user_filter"] == "(uid={username})"

    # A good filter, the password left empty: only the filter is sent, the password stays.
    admin.testid("provider-user-filter").fill("(mail={username})")
    with admin.page.expect_request(lambda r: r.method == "PATCH") as sent:
        admin.testid("provider-submit").click()
    assert sent.value.post_data_json == {"user_filter": "(mail={username})"}, sent.value.post_data
    dialog.wait_for(state="detached")
    expect(error).to_have_count(0)
    stored = providers_of(root, tenant)["corp"]
    assert stored["user_filter"] == "(mail={username})" and stored["bind_password_set"] is True, stored
    assert stored["url"] == LDAP_URL and stored["mappings"] == expected["mappings"], stored
    expect(admin.testid("provider-row-corp")).to_contain_text("bind password set")

    # Opened again: the new filter, still a stored password; an unchanged form sends nothing.
    admin.testid("provider-edit-corp").click()
    dialog.wait_for()
    expect(admin.testid("provider-user-filter")).to_have_value("(mail={username})")
    expect(admin.testid("provider-bind-password-set")).not_to_contain_text("not set")
    patches_before = len(requests_sent)
    admin.testid("provider-submit").click()
    dialog.wait_for(state="detached")
    expect(admin.testid("notice-info")).to_contain_text("Nothing changed")
    assert len(requests_sent) == patches_before

    # Deleted after the confirmation (a cancelled one keeps it).
    admin.testid("provider-delete-corp").click()
    admin.testid("confirm-dialog").wait_for()
    admin.testid("confirm-cancel").click()
    admin.testid("confirm-dialog").wait_for(state="detached")
    assert "corp" in providers_of(root, tenant)
    admin.testid("provider-delete-corp").click()
    admin.testid("confirm-ok").click()
    admin.testid("provider-row-corp").wait_for(state="detached")
    expect(admin.testid("provider-empty")).to_be_visible()
    assert providers_of(root, tenant) == {}
    assert admin.problems == [], admin.problems


def test_an_oidc_provider_made_in_the_console_shows_the_redirect_uri(srv, root, consoles):  # noqa: F811
    tenant = make_tenant(root, "idpoidc")
    admin = consoles(srv, "oidc-admin")
    admin.sign_in(f"{tenant}/boss", PASSWORD)
    open_users_page(admin)
    redirect_uri = f"{srv.console_endpoint}/api/v1/auth/oidc/callback"
    expect(admin.testid("provider-redirect-uri")).to_have_text(redirect_uri)

    admin.testid("provider-create").click()
    dialog = admin.testid("provider-dialog")
    dialog.wait_for()
    admin.testid("provider-type").select_option("oidc")
    expect(admin.testid("provider-oidc-fields")).to_be_visible()
    expect(admin.testid("provider-ldap-fields")).to_be_hidden()
    expect(admin.testid("provider-dialog-redirect-uri")).to_have_text(redirect_uri)
    expect(admin.testid("provider-scopes")).to_have_value("openid profile email groups")
    expect(admin.testid("provider-groups-claim")).to_have_value("groups")
    admin.testid("provider-name").fill("keycloak")
    admin.testid("provider-issuer").fill("http://127.0.0.1:9/realms/acme")
    admin.testid("provider-client-id").fill("maxiofs")
    admin.testid("provider-client-secret").fill(OIDC_SECRET)
    rows = admin.testid("provider-mapping-row")
    rows.nth(0).get_by_test_id("provider-mapping-value").fill("storage-admins")
    rows.nth(0).get_by_test_id("provider-mapping-role").select_option("tenant-admin")
    admin.testid("provider-mapping-add").click()
    rows.nth(1).get_by_test_id("provider-mapping-kind").select_option("email_domain")
    rows.nth(1).get_by_test_id("provider-mapping-value").fill("@Example.COM")
    rows.nth(1).get_by_test_id("provider-mapping-role").select_option("read-only")
    with admin.page.expect_response(is_provider_list) as listed:
        admin.testid("provider-submit").click()
    dialog.wait_for(state="detached")
    assert OIDC_SECRET not in listed.value.text() and '"client_secret"' not in listed.value.text()

    row = admin.testid("provider-row-keycloak")
    row.wait_for()
    expect(row).to_contain_text("OIDC")
    expect(row).to_contain_text("http://127.0.0.1:9/realms/acme")
    expect(row).to_contain_text("client secret set")
    expect(row).to_contain_text(re.compile(r"storage-admins\s*→\s*tenant-admin"))
    expect(row).to_contain_text(re.compile(r"@example\.com\s*→\s*read-only"))
    expect(admin.testid("provider-redirect-uri")).to_have_text(redirect_uri)
    stored = providers_of(root, tenant)["keycloak"]
    expected = {
        "type": "oidc", "issuer": "http://127.0.0.1:9/realms/acme", "client_id": "maxiofs",
        "client_secret_set": True, "scopes": ["openid", "profile", "email", "groups"], "groups_claim": "groups",
        "mappings": [{"group": "storage-admins", "role": "tenant-admin"},
                     {"email_domain": "example.com", "role": "read-only"}],
    }
    assert {k: stored.get(k) for k in expected} == expected, stored
    # The sign-in page offers it.
    public = root.call("GET", "/auth/providers", expect=200, params={"tenant": tenant}).json()["providers"]
    assert [p["name"] for p in public] == ["keycloak"], public

    # A redirect_uri set through the API is kept by an edit in the console.
    root.call("PATCH", f"/tenants/{tenant}/identity-providers/{stored['id']}", expect=200,
              json={"redirect_uri": "https://console.example.org/api/v1/auth/oidc/callback"})
    admin.page.reload()
    admin.testid("provider-edit-keycloak").click()
    dialog.wait_for()
    expect(admin.testid("provider-client-secret")).to_have_value("")
    expect(admin.testid("provider-client-secret-set")).not_to_contain_text("not set")
    expect(admin.testid("provider-dialog-redirect-uri")).to_have_text(redirect_uri)
    admin.testid("provider-client-id").fill("maxiofs-console")
    with admin.page.expect_request(lambda r: r.method == "PATCH") as sent:
        admin.testid("provider-submit").click()
    assert sent.value.post_data_json == {"client_id": "maxiofs-console"}, sent.value.post_data
    dialog.wait_for(state="detached")
    stored = providers_of(root, tenant)["keycloak"]
    assert stored["client_id"] == "maxiofs-console" and stored["client_secret_set"] is True, stored
    assert stored["redirect_uri"] == "https://console.example.org/api/v1/auth/oidc/callback", stored
    assert stored["mappings"] == expected["mappings"], stored
    assert admin.problems == [], admin.problems


def test_a_system_admin_sees_the_panel_and_users_do_not(srv, root, consoles):  # noqa: F811
    tenant = make_tenant(root, "idpview")
    root.call("POST", f"/tenants/{tenant}/identity-providers", expect=201, json={
        "name": "dir", "type": "ldap", "url": LDAP_URL, "bind_dn": "cn=svc", "bind_password": BIND_PASSWORD,
        "user_base_dn": PEOPLE, "user_filter": "(uid={username})", "group_base_dn": GROUPS,
        "group_filter": "(member={user_dn})", "mappings": [{"group": ADMINS_DN, "role": "user"}]})

    system = consoles(srv, "system-admin")
    system.sign_in(srv.access_key, srv.secret_key)
    system.goto(f"#/tenants/{tenant}")
    row = system.testid("provider-row-dir")
    row.wait_for()
    expect(row).to_contain_text("bind password set")
    system.testid("provider-create").wait_for()
    assert BIND_PASSWORD not in system.page.content()
    assert system.problems == [], system.problems

    for name in ("reader", "worker"):
        user = consoles(srv, name)
        user.sign_in(f"{tenant}/{name}", PASSWORD)
        user.goto("#/users")
        user.testid("users-unavailable").wait_for()
        for control in ("provider-panel", "provider-create", "provider-row-dir", "provider-redirect-uri"):
            assert user.testid(control).count() == 0, f"{name} sees {control}"
        assert user.problems == [], user.problems
