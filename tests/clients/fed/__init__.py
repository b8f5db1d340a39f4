"""Real identity providers for the federation tests (issue 20), started by the test suite:

- fed.slapd: Debian's OpenLDAP `slapd` on loopback ports with a throw-away database
  (ldap:// with StartTLS, ldaps://, a private CA); the `slapd` fixture.
- fed.oidc_client: the `oidc-provider` npm package (fed/oidc/provider.mjs, `npm ci` there) on a
  loopback port, and a browserless authorization-code client (PKCE) that gets ID tokens from
  it; the `oidc_provider` fixture.
- fed.support: the admin API, tenants, the audit log and STS helpers both test files share.

Import a fixture into a test module to use it (`from fed.slapd import slapd`).
"""

import os
import shutil


class Daemon:
    """What the test servers share: a process (`self.proc`) started by `start()` and ended by
    `stop()`, both the subclass's, and a work directory (`self.dir`) removed on close when the
    daemon made it (`self._own_dir`), unless MAXIOFS_KEEP_TEST_DATA=1."""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        self.stop()
        if self._own_dir and os.environ.get("MAXIOFS_KEEP_TEST_DATA") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
