"""The configuration file and `maxiofs config check`: one precedence (flag > environment > file
> default), unknown keys refused with their name and line, invalid values refused, secrets masked,
and a server started from the file alone serving on the file's settings."""

from __future__ import annotations

import os
import subprocess
import time

import requests

from conftest import SERVER_BIN, free_port


def run(*args, env_extra=None, timeout=60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}
    env.update(env_extra or {})
    return subprocess.run([str(SERVER_BIN), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def settings_of(output: str) -> dict[str, tuple[str, str]]:
    out = {}
    for line in output.splitlines():
        if line.startswith("#") or " = " not in line:
            continue
        key, rest = line.split(" = ", 1)
        value, _, source = rest.partition("  # ")
        out[key] = (value.strip('"'), source)
    return out


def test_precedence_flag_env_file_default(tmp_path):
    config = tmp_path / "maxiofs.toml"
    config.write_text('# a comment\nregion = "eu-west-3"\nshards = 2\nscrub_rate_mib = 8\n'
                      'metrics_token = "do-not-print-me"\n')
    done = run("config", "check", "--config", config, "--shards", "3",
               env_extra={"MAXIOFS_SCRUB_RATE_MIB": "4"})
    assert done.returncode == 0, done.stderr
    settings = settings_of(done.stdout)
    assert settings["region"] == ("eu-west-3", "file")
    assert settings["scrub_rate_mib"] == ("4", "environment")
    assert settings["shards"] == ("3", "flag")
    assert settings["segment_mib"] == ("128", "default")
    assert settings["metrics_token"] == ("********", "file")
    assert "do-not-print-me" not in done.stdout + done.stderr
    # MAXIOFS_CONFIG names the file as --config does.
    done = run("config", "check", env_extra={"MAXIOFS_CONFIG": str(config)})
    assert settings_of(done.stdout)["shards"] == ("2", "file")


def test_unknown_keys_and_bad_values_are_refused(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('region = "us-east-1"\n\n  scrub_rate = 5\n')
    done = run("config", "check", "--config", config)
    assert done.returncode == 2
    assert f"{config}:3: unknown setting `scrub_rate`" in done.stderr, done.stderr
    config.write_text('shards = "many"\n')
    done = run("config", "check", "--config", config)
    assert done.returncode == 2 and "many" in done.stderr
    config.write_text('shards = [1, 2]\n')
    assert run("config", "check", "--config", config).returncode == 2
    config.write_text('region = "unterminated\n')
    assert run("config", "check", "--config", config).returncode == 2
    assert run("config", "check", "--config", tmp_path / "missing.toml").returncode == 2


def test_server_runs_on_the_files_settings(tmp_path):
    port, console = free_port(), free_port()
    config = tmp_path / "maxiofs.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\nlisten = "127.0.0.1:{port}"\n'
        f'console_listen = "127.0.0.1:{console}"\nshards = 1\n'
        'root_access_key = "AKIACONFIGFILE000001"\nroot_secret_key = "configFileSecret0000000000000000000000000"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}
    proc = subprocess.Popen([str(SERVER_BIN), "server", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/_maxiofs/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not come up on the file's port")
        assert (tmp_path / "data").is_dir()
        login = requests.post(f"http://127.0.0.1:{console}/api/v1/auth/login", timeout=10,
                              json={"username": "AKIACONFIGFILE000001",
                                    "password": "configFileSecret0000000000000000000000000"})
        assert login.status_code == 200, login.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert b"configFileSecret" not in proc.stderr.read()


def serve_from_file(config, env, stderr_path, port) -> subprocess.Popen:
    """`maxiofs server --config FILE` with its stderr in a file, once it answers health checks."""
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen([str(SERVER_BIN), "server", "--config", str(config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_maxiofs/health", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the server did not come up:\n{stderr_path.read_text()}")


def test_sighup_reloads_the_log_filter_from_the_file(tmp_path):
    import signal

    port = free_port()
    config = tmp_path / "maxiofs.toml"
    settings = (f'data_dir = "{tmp_path / "data"}"\nlisten = "127.0.0.1:{port}"\n'
                'console_listen = "off"\nshards = 1\n')
    config.write_text(settings + 'log = "warn"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}
    stderr_path = tmp_path / "stderr.log"
    proc = serve_from_file(config, env, stderr_path, port)
    try:
        url = f"http://127.0.0.1:{port}"
        # An anonymous request is denied and audited at INFO: filtered out at `warn`.
        assert requests.get(f"{url}/some-bucket/key", timeout=10).status_code in (403, 404)
        time.sleep(0.2)
        assert b"request denied" not in stderr_path.read_bytes()
        config.write_text(settings + 'log = "info"\n')
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while b"log filter reloaded" not in stderr_path.read_bytes() and time.time() < deadline:
            time.sleep(0.1)
        assert b"log filter reloaded" in stderr_path.read_bytes()
        assert requests.get(f"{url}/some-bucket/key", timeout=10).status_code in (403, 404)
        deadline = time.time() + 5
        while b"request denied" not in stderr_path.read_bytes() and time.time() < deadline:
            time.sleep(0.1)
        assert b"request denied" in stderr_path.read_bytes()
        assert proc.poll() is None, "SIGHUP must not stop the server"
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_sighup_reloads_limits_and_the_lifecycle_interval(tmp_path):
    """Settings that can change safely while serving follow the file on SIGHUP: the per-client
    connection cap and the lifecycle interval; one set by the environment keeps its value."""
    import signal
    import socket

    from helpers import make_client

    port = free_port()
    config = tmp_path / "maxiofs.toml"
    base = (f'data_dir = "{tmp_path / "data"}"\nlisten = "127.0.0.1:{port}"\n'
            'console_listen = "off"\nshards = 1\nlifecycle_day_s = 1\n'
            'root_access_key = "AKIARELOAD0000000001"\n'
            'root_secret_key = "reloadSecret000000000000000000000000000000"\n')
    config.write_text(base + "lifecycle_interval_s = 3600\nconnections_per_client_max = 1000\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAXIOFS_")}
    # From the environment: wins over the file, before and after a reload.
    env["MAXIOFS_ALERT_INTERVAL_S"] = "77"
    stderr_path = tmp_path / "stderr.log"
    proc = serve_from_file(config, env, stderr_path, port)
    try:
        url = f"http://127.0.0.1:{port}"
        s3 = make_client(url, "AKIARELOAD0000000001", "reloadSecret000000000000000000000000000000")
        s3.create_bucket(Bucket="reload")
        s3.put_object(Bucket="reload", Key="old", Body=b"x")
        s3.put_bucket_lifecycle_configuration(Bucket="reload", LifecycleConfiguration={"Rules": [
            {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]})
        time.sleep(3)
        # An hour between passes: the object outlives its one-second "day" for now.
        assert s3.list_objects_v2(Bucket="reload").get("KeyCount") == 1
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]

        config.write_text(base + "lifecycle_interval_s = 1\nconnections_per_client_max = 3\n"
                          "alert_interval_s = 5\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while stderr_path.read_bytes().count(b"setting reloaded") < 2 and time.time() < deadline:
            time.sleep(0.1)
        log = stderr_path.read_text()
        assert "lifecycle_interval_s" in log and "connections_per_client_max" in log
        assert "alert_interval_s" not in log.split("SIGHUP", 1)[1], "the environment's value must stay"
        # Three connections held: a fourth from the same address is closed at once.
        extra = socket.create_connection(("127.0.0.1", port))
        extra.settimeout(5)
        try:
            extra.sendall(b"GET /_maxiofs/health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = extra.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b"", "over the reloaded cap the connection must be closed unanswered"
        for conn in held:
            conn.close()
        deadline = time.time() + 15
        while s3.list_objects_v2(Bucket="reload").get("KeyCount") and time.time() < deadline:
            time.sleep(0.5)
        assert s3.list_objects_v2(Bucket="reload").get("KeyCount") == 0, "lifecycle ran after the reload"
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
