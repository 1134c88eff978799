"""The command line as a user meets it: first start, clear errors, no tracebacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

from hotspots.config import PROJECT_ROOT
from tests.conftest import POLICEUK_FIXTURES, http_sign_in


def test_start_loads_demo_data_once_and_prints_wards(run_cli):
    code, out, err = run_cli("start")
    assert code == 0, err
    assert "First start: imported the bundled demo data" in err
    assert "Import summary" in out
    assert "All incidents by ward, 2017-02 to 2018-01" in out
    assert "Hucknall North" in out
    code, out, err = run_cli("start")
    assert code == 0, err
    assert "First start" not in err and "Import summary" not in out


def test_run_py_serves_the_demo_on_first_start(tmp_path):
    """The README's run command: import the demo data, choose defaults, serve, print the URL."""
    import json
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "HOTSPOTS_DB": str(tmp_path / "demo.sqlite"),
        "HOTSPOTS_INSTANCE": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("HOTSPOTS_SECRET_KEY", "HOTSPOTS_ADMIN_PASSWORD"):
        env.pop(name, None)  # the first run makes both
    server = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "run.py"), "--port", str(port), "--tiles", "none"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    printed: list[str] = []
    threading.Thread(
        target=lambda: printed.extend(iter(server.stdout.readline, "")), daemon=True
    ).start()
    try:
        deadline = time.time() + 240
        health = None
        while time.time() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health", timeout=2
                ) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert health is not None, "the server did not answer /health"
        assert health["status"] == "ok" and health["incidents"] == 17935
        assert health["latest_period"] == "2019-09"
        base = f"http://127.0.0.1:{port}"
        # Nothing but /health without signing in; the admin password is printed once.
        with urllib.request.urlopen(base + "/?group=asb", timeout=10) as response:
            assert "/login" in response.url and 'name="password"' in response.read().decode()
        out = "".join(printed)
        password = re.search(r"Sign in as admin with password (\S+)", out).group(1)
        opener = http_sign_in(base, "admin", password)
        with opener.open(base + "/admin/users", timeout=30) as response:
            assert "admin" in response.read().decode()
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    out = "".join(printed)
    assert f"open http://localhost:{port}/" in out
    assert "Recommended for asb" in err
    config = tmp_path / "instance" / "config.toml"
    assert "secret_key" in config.read_text() and (config.stat().st_mode & 0o077) == 0


def test_first_run_admin_takes_the_password_from_the_environment(tmp_path, monkeypatch):
    from hotspots.accounts import Accounts
    from hotspots.cli import Context, ensure_admin

    obj = Context(str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("HOTSPOTS_ADMIN_PASSWORD", "chosen-by-the-installer")
    ensure_admin(obj)
    ensure_admin(obj)  # a second start changes nothing
    with Accounts.for_store(tmp_path / "store.sqlite") as accounts:
        assert [u.username for u in accounts.users()] == ["admin"]
        assert accounts.authenticate("admin", "chosen-by-the-installer") is not None


def test_errors_are_sentences_with_nonzero_exit(run_cli, tmp_path):
    code, out, err = run_cli("import", tmp_path / "missing.csv")
    assert code == 2 and "There is no file or folder at" in err
    code, out, err = run_cli("summary")
    assert code == 2 and "holds no incidents yet" in err
    code, out, err = run_cli("summary", "--from", "2017-12", "--to", "2017-10")
    assert code == 2 and "ends" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, out, err = run_cli("import", empty)
    assert code == 2 and "is empty" in err
    for text in (out, err):
        assert "Traceback" not in text


def test_rejects_command_lists_and_exports(run_cli, tmp_path):
    bad = tmp_path / "bad.csv"
    lines = (POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv").read_text().splitlines()
    bad.write_text(
        "\n".join([lines[0], lines[1], lines[2].replace("2017-12", "2017-13", 1)]) + "\n"
    )
    code, out, err = run_cli("import", bad)
    assert code == 0, err
    code, out, err = run_cli("rejects")
    assert "bad date" in out
    exported = tmp_path / "rejects.csv"
    code, out, err = run_cli("rejects", "--export", exported)
    assert code == 0 and exported.read_text().count("bad date") == 1


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "hotspots.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for command in ("import", "summary", "rejects", "imports", "start"):
        assert command in result.stdout


def test_import_whole_data_folder_skips_the_postcode_table(run_cli):
    """`hotspots import data/` takes every police.uk month and reports the CSV it cannot use."""
    code, out, err = run_cli("import", PROJECT_ROOT / "data")
    assert code == 0, err
    assert "17,935" in out  # every bundled police.uk row
    assert "Skipped codepoint_open_2014_ng15_ng16_ng17.csv: " in out
    assert "not a police.uk street-level file" in out


def test_folder_of_unmapped_exports_is_an_error(run_cli, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "a.csv").write_text("Reported,Type\n01/12/2017,Noise\n")
    (exports / "readme.txt").write_text("notes")
    code, out, err = run_cli("import", exports)
    assert code == 2
    assert "Nothing could be imported" in err and "a.csv" in err
