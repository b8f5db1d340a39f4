#!/usr/bin/env bash
# Run every test of the project: formatting, lints, Rust tests, then the client compatibility
# suite (boto3, aws cli, rclone, s3cmd) against a release build of the server.
#
# Usage (from anywhere): scripts/test-all.sh
# Installs what it needs idempotently: rclone, chromium, prometheus, slapd + ldap-utils and
# nodejs + npm (Debian packages, only when missing), the test OpenID provider's node packages
# (npm ci from tests/clients/fed/oidc/package-lock.json), cargo-deb (from crates.io), and the
# Python clients pinned in tests/requirements.txt (into .venv; playwright drives the system
# chromium and never downloads a browser). Works with CI=true and no stdin.
set -euo pipefail

cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
# tests/clients/test_browser.py launches /usr/bin/chromium; playwright must not fetch its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "need root to run: $*" >&2
        return 1
    fi
}

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        as_root apt-get update -qq </dev/null
        apt_updated=1
    fi
    as_root apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

step "system packages"
if ! command -v rclone >/dev/null 2>&1; then
    apt_install rclone
fi
rclone version </dev/null | sed -n 1p
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi
/usr/bin/chromium --version </dev/null 2>/dev/null
# tests/clients/test_metrics.py: a real Prometheus scrapes /metrics; promtool checks the rules.
if ! command -v prometheus >/dev/null 2>&1; then
    apt_install prometheus
fi
prometheus --version </dev/null 2>&1 | sed -n 1p
# tests/clients/test_federation_ldap.py: a real OpenLDAP server (slapd, /usr/sbin) and ldap-utils.
if [ ! -x /usr/sbin/slapd ] && ! command -v slapd >/dev/null 2>&1; then
    apt_install slapd ldap-utils
fi
if ! command -v ldapsearch >/dev/null 2>&1; then
    apt_install ldap-utils
fi
PATH="$PATH:/usr/sbin" slapd -VV </dev/null 2>&1 | sed -n 1p
# tests/clients/test_federation_oidc.py: a real OpenID Connect provider on node (npm below).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
node --version </dev/null

step "python clients (.venv, tests/requirements.txt)"
if ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
    rm -rf .venv
    if ! python3 -m venv .venv </dev/null; then
        apt_install python3-venv
        rm -rf .venv
        python3 -m venv .venv </dev/null
    fi
fi
# Pinned versions: a no-op (and no network) when they are already installed.
.venv/bin/python -m pip install -q -r tests/requirements.txt </dev/null
.venv/bin/python -c 'import boto3, botocore, awscli, pytest; print("boto3", boto3.__version__, "botocore", botocore.__version__, "awscli", awscli.__version__, "pytest", pytest.__version__)'

step "node packages of the test OpenID provider (tests/clients/fed/oidc, package-lock.json)"
# npm ci only when node_modules is missing or older than the lock file (no network otherwise).
oidc_dir=tests/clients/fed/oidc
if [ ! -f "$oidc_dir/node_modules/.package-lock.json" ] \
    || [ "$oidc_dir/package-lock.json" -nt "$oidc_dir/node_modules/.package-lock.json" ]; then
    (cd "$oidc_dir" && npm ci --no-audit --no-fund </dev/null)
fi
node -e 'console.log("oidc-provider", require("./'"$oidc_dir"'/node_modules/oidc-provider/package.json").version)' </dev/null

step "cargo-deb (tests/clients/test_packaging.py builds the Debian package)"
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked --quiet </dev/null
fi
cargo deb --version

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace </dev/null

step "cargo build --release -p maxiofs -p bench"
cargo build --release -p maxiofs -p bench

step "client compatibility suite (pytest tests/clients)"
exec .venv/bin/python -m pytest -q tests/clients </dev/null
