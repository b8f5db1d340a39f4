"""The Debian package (`cargo deb --no-build`, after the release build): it holds the binary,
the default configuration as a conffile, the systemd unit and the docs; the unit passes
`systemd-analyze verify` (with the extracted binary in place of /usr/bin/maxiofs: the machine
has no installed copy); the packaged configuration passes `config check`; and the binary answers
the readiness protocol of `Type=notify` (the unit test in src/systemd.rs). Starting the unit under
systemd needs a machine whose PID 1 is systemd, which CI containers are not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tool(name: str) -> str:
    found = shutil.which(name) or (shutil.which(name, path=str(Path.home() / ".cargo" / "bin")))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing (scripts/test-all.sh installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def test_deb_contents_unit_and_configuration(tmp_path):
    cargo = tool("cargo")
    tool("cargo-deb")
    built = subprocess.run([cargo, "deb", "--no-build", "-p", "maxiofs", "--output", str(tmp_path)],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    debs = list(tmp_path.glob("maxiofs_*.deb"))
    assert len(debs) == 1, debs
    listing = subprocess.run(["dpkg-deb", "-c", str(debs[0])], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/maxiofs", "./etc/maxiofs/maxiofs.toml", "./usr/lib/systemd/system/maxiofs.service",
                 "./usr/share/doc/maxiofs/install.md", "./usr/share/doc/maxiofs/metrics.md",
                 "./etc/logrotate.d/maxiofs"):
        assert path in listing, f"{path} not in the package:\n{listing}"
    info = subprocess.run(["dpkg-deb", "-f", str(debs[0]), "Depends", "Conffiles"], capture_output=True,
                          text=True, check=True).stdout
    assert "adduser" in info
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(debs[0])], capture_output=True, check=True).stdout
    assert b"/etc/maxiofs/maxiofs.toml" in control, "the configuration must be a conffile"
    assert b"/etc/logrotate.d/maxiofs" in control, "the logrotate rule must be a conffile"
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    unit = (root / "usr/lib/systemd/system/maxiofs.service").read_text()
    for line in ("Type=notify", "User=maxiofs", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "LimitNOFILE=", "LimitMEMLOCK=", "ReadWritePaths=/var/lib/maxiofs /etc/maxiofs",
                 "LogsDirectory=maxiofs"):
        assert line in unit, line
    checked = subprocess.run([str(root / "usr/bin/maxiofs"), "config", "check", "--config",
                              str(root / "etc/maxiofs/maxiofs.toml")], capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")})
    assert checked.returncode == 0, checked.stderr
    assert 'data_dir = "/var/lib/maxiofs"  # file' in checked.stdout
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    copy = tmp_path / "maxiofs.service"
    copy.write_text(unit.replace("/usr/bin/maxiofs", str(root / "usr/bin/maxiofs")))
    verified = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
