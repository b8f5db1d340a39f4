"""Real identity providers for the federation tests (issue 20), started by the test suite:

- fed.slapd: Debian's OpenLDAP `slapd` on loopback ports with a throw-away database
  (ldap:// with StartTLS, ldaps://, a private CA); the `slapd` fixture.
- fed.oidc_client: the `oidc-provider` npm package (fed/oidc/provider.mjs, `npm ci` there) on a
  loopback port, and a browserless authorization-code client (PKCE) that gets ID tokens from
  it; the `oidc_provider` fixture.
- fed.support: the admin API, tenants, the audit log and STS helpers both test files share.

Import a fixture into a test module to use it (`from fed.slapd import slapd`).
"""
