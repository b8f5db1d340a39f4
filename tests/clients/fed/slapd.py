"""A real OpenLDAP server for the federation tests (issue 20): Debian's `slapd` on free loopback
ports, with a throw-away mdb database in a temporary directory.

    ldap://127.0.0.1:PORT   (StartTLS offered)
    ldaps://127.0.0.1:PORT2

Both with a server certificate (CN localhost, SAN DNS:localhost, IP:127.0.0.1) signed by a
throw-away CA made with `openssl` (helpers.make_ca_and_leaf); `ca_pem` is that CA's PEM.

The directory (suffix dc=example,dc=org):

    cn=admin,dc=example,dc=org              rootdn (ADMIN_PASSWORD)
    cn=maxiofs,ou=services,...              the service account maxiofs binds as (SERVICE_PASSWORD)
    uid=alice|bob|carol|dave|erin|frank,ou=people,...   inetOrgPerson with userPassword (USERS)
    ou=groups, groupOfNames:
        cn=s3-admins        alice
        cn=s3-writers       dave, frank
        cn=s3-readers       bob, cn=nested-readers
        cn=nested-readers   carol          (carol is a reader only through nesting)
    erin is in no group.

Anonymous clients may only bind (no reads): user and group searches need the service bind.

Use it as a context manager, through the `slapd` fixture below (module scope; import it into a
test module with `from fed.slapd import slapd`), or by hand with start()/stop().
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from fed import Daemon

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SLAPPASSWD = shutil.which("slappasswd") or "/usr/sbin/slappasswd"
MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"

SUFFIX = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-Secret-1"
SERVICE_DN = f"cn=maxiofs,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "service-Secret-2"
PEOPLE_DN = f"ou=people,{SUFFIX}"
GROUPS_DN = f"ou=groups,{SUFFIX}"

USERS = {
    "alice": "alice-Password-1",
    "bob": "bob-Password-2",
    "carol": "carol-Password-3",
    "dave": "dave-Password-4",
    "erin": "erin-Password-5",
    "frank": "frank-Password-6",
}


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE_DN}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS_DN}"


GROUPS = {
    "s3-admins": [user_dn("alice")],
    "s3-writers": [user_dn("dave"), user_dn("frank")],
    "s3-readers": [user_dn("bob"), group_dn("nested-readers")],
    "nested-readers": [user_dn("carol")],
}


def available() -> bool:
    return os.path.exists(SLAPD) and shutil.which("ldapsearch") is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hash(password: str) -> str:
    out = subprocess.run([SLAPPASSWD, "-h", "{SSHA}", "-s", password], check=True, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    return out.stdout.strip()


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: maxiofs\n"
        f"userPassword: {_hash(SERVICE_PASSWORD)}\n",
    ]
    for uid, password in USERS.items():
        entries.append(
            f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid.title()}\nsn: {uid.title()}\n"
            f"mail: {uid}@example.org\nuserPassword: {_hash(password)}\n"
        )
    # Nested groups first so that every member DN exists when the parent is added (slapadd does not
    # care, but ldapadd-style readers may).
    for cn in ("nested-readers", "s3-admins", "s3-writers", "s3-readers"):
        members = "".join(f"member: {m}\n" for m in GROUPS[cn])
        entries.append(f"dn: {group_dn(cn)}\nobjectClass: groupOfNames\ncn: {cn}\n{members}")
    return "\n".join(entries)


class Slapd(Daemon):
    """One slapd process on a throw-away database; stop()/start() keep the ports and the data."""

    def __init__(self, workdir: Path | None = None):
        from helpers import make_ca_and_leaf

        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="maxiofs-slapd-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.ldaps_port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.users = dict(USERS)
        self.log_path = self.dir / "slapd.log"
        tls = self.dir / "tls"
        tls.mkdir(exist_ok=True)
        self.ca_path, self.cert_path, self.key_path = make_ca_and_leaf(tls, "localhost")
        self.ca_pem = self.ca_path.read_text()
        self.conf = self.dir / "slapd.conf"
        self.db = self.dir / "db"
        self.db.mkdir(exist_ok=True)
        self.conf.write_text(self._conf())
        (self.dir / "ldap.conf").write_text("")
        ldif = self.dir / "data.ldif"
        ldif.write_text(_ldif())
        subprocess.run([SLAPADD, "-f", str(self.conf), "-l", str(ldif)], check=True, capture_output=True,
                       stdin=subprocess.DEVNULL)

    # -- configuration

    def _conf(self) -> str:
        schemas = "".join(f"include {SCHEMA_DIR}/{name}.schema\n" for name in ("core", "cosine", "inetorgperson"))
        return f"""{schemas}
pidfile {self.dir}/slapd.pid
argsfile {self.dir}/slapd.args
modulepath {MODULE_PATH}
moduleload back_mdb
loglevel stats
TLSCACertificateFile {self.ca_path}
TLSCertificateFile {self.cert_path}
TLSCertificateKeyFile {self.key_path}

database mdb
maxsize 67108864
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {self.db}
index objectClass eq
index uid eq
index member eq
access to attrs=userPassword
    by self read
    by anonymous auth
    by * none
access to *
    by users read
    by * none
"""

    # -- addresses

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    # -- lifecycle

    def start(self, timeout: float = 20.0) -> "Slapd":
        assert not self.running(), "slapd already running"
        urls = f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.ldaps_port}/"
        log = open(self.log_path, "ab")
        # -d keeps slapd in the foreground (its log on stderr); stats logs binds and searches.
        self.proc = subprocess.Popen([SLAPD, "-f", str(self.conf), "-h", urls, "-d", "stats"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._listening(self.port) and self._listening(self.ldaps_port):
                if self.ldap("ldapsearch", "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-b", SUFFIX, "-s", "base",
                             check=False).returncode == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"slapd not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (after SIGCONT, should it be paused); the data stays for start()."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel but never answered (a hung server)."""
        assert self.running()
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.running()
        os.kill(self.proc.pid, signal.SIGCONT)


    @staticmethod
    def _listening(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    # -- what slapd logged (loglevel stats: one line per operation)

    def log_mark(self) -> int:
        """An offset in the log; *_since(mark) read what was logged after it."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, mark: int) -> str:
        time.sleep(0.2)  # slapd's threads write their lines as the operation ends
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def searches_since(self, mark: int, base: str = PEOPLE_DN) -> list[str]:
        """The filters of the searches under `base` since mark."""
        return re.findall(rf'SRCH base="{re.escape(base)}" scope=\d+ deref=\d+ filter="([^"]*)"',
                          self.log_since(mark))

    def binds_since(self, mark: int, dn: str) -> list[int]:
        """The security strength (ssf: 0 in clear, 256 over TLS 1.3) of each bind as dn since mark."""
        return [int(ssf) for ssf in re.findall(rf'BIND dn="{re.escape(dn)}" mech=SIMPLE bind_ssf=\d+ ssf=(\d+)',
                                                self.log_since(mark))]

    # -- ldap-utils

    def client_env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "LDAPCONF": str(self.dir / "ldap.conf"),
            "LDAPRC": str(self.dir / "ldaprc-none"),
            "LDAPTLS_CACERT": str(self.ca_path),
            "LDAPTLS_REQCERT": "demand",
        })
        return env

    def ldap(self, tool: str, *args: str, url: str | None = None, start_tls: bool = False, check: bool = True,
             input_text: str | None = None) -> subprocess.CompletedProcess:
        """Runs an ldap-utils tool (ldapsearch, ldapwhoami, ldapmodify, ...) with simple binds."""
        cmd = [tool, "-x", "-H", url or self.url, "-o", "nettimeout=5"]
        if start_tls:
            cmd.append("-ZZ")
        cmd += list(args)
        result = subprocess.run(cmd, env=self.client_env(), capture_output=True, text=True, timeout=30,
                                input=input_text, stdin=None if input_text is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def whoami(self, uid: str, password: str | None = None, *, url: str | None = None,
               start_tls: bool = False) -> str:
        """ldapwhoami as a user ('dn:uid=...'); raises on a failed bind."""
        password = self.users[uid] if password is None else password
        out = self.ldap("ldapwhoami", "-D", user_dn(uid), "-w", password, url=url, start_tls=start_tls)
        return out.stdout.strip()

    def modify(self, ldif: str) -> None:
        self.ldap("ldapmodify", "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, input_text=ldif)

    def add_member(self, group: str, member_dn: str) -> None:
        self.modify(f"dn: {group_dn(group)}\nchangetype: modify\nadd: member\nmember: {member_dn}\n")

    def remove_member(self, group: str, member_dn: str) -> None:
        self.modify(f"dn: {group_dn(group)}\nchangetype: modify\ndelete: member\nmember: {member_dn}\n")

    def set_password(self, uid: str, password: str) -> None:
        self.modify(f"dn: {user_dn(uid)}\nchangetype: modify\nreplace: userPassword\nuserPassword: {password}\n")
        self.users[uid] = password

    def members(self, group: str) -> list[str]:
        out = self.ldap("ldapsearch", "-LLL", "-D", SERVICE_DN, "-w", SERVICE_PASSWORD, "-b", group_dn(group),
                        "-s", "base", "member").stdout
        return [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("member: ")]

    # -- maxiofs

    def provider_body(self, name: str, mode: str = "ldap", mappings: list[dict] | None = None, **extra) -> dict:
        """The admin API's LDAP identity provider body (contract) for this directory.

        mode: "ldap" (plain), "starttls" (ldap:// + StartTLS, with ca_pem), "ldaps" (with ca_pem)."""
        body = {
            "name": name,
            "type": "ldap",
            "url": self.ldaps_url if mode == "ldaps" else self.url,
            "start_tls": mode == "starttls",
            "bind_dn": SERVICE_DN,
            "bind_password": SERVICE_PASSWORD,
            "user_base_dn": PEOPLE_DN,
            "user_filter": "(uid={username})",
            "group_base_dn": GROUPS_DN,
            "group_filter": "(member={user_dn})",
            "mappings": mappings if mappings is not None else default_mappings(),
            "nested_groups": True,
            "timeout_ms": 3000,
        }
        if mode in ("starttls", "ldaps"):
            body["ca_pem"] = self.ca_pem
        body.update(extra)
        return body


def default_mappings() -> list[dict]:
    return [
        {"group": group_dn("s3-admins"), "role": "tenant-admin"},
        {"group": group_dn("s3-writers"), "role": "user"},
        {"group": group_dn("s3-readers"), "role": "read-only"},
    ]


@pytest.fixture(scope="module")
def slapd():
    """A running Slapd for the module (skipped, or failed under CI, without Debian's slapd)."""
    if not available():
        if os.environ.get("CI"):
            pytest.fail("CI needs slapd and ldap-utils (scripts/test-all.sh installs them)")
        pytest.skip("no slapd / ldap-utils (apt-get install slapd ldap-utils)")
    server = Slapd()
    server.start()
    try:
        yield server
    finally:
        server.close()
