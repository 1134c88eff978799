"""Shared fixtures: the real Ashfield pack, throw-away stores, and a CLI runner."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from hotspots.accounts import Accounts, accounts_path_for
from hotspots.boundaries import load_pack
from hotspots.config import DEFAULT_PACK, DEFAULT_POSTCODES, PROJECT_ROOT
from hotspots.ingest.postcodes import load_postcodes
from hotspots.store import Store

TESTS = Path(__file__).parent
FIXTURES = TESTS / "data"
POLICEUK_FIXTURES = FIXTURES / "policeuk"
BUNDLED_MONTHS = PROJECT_ROOT / "data" / "policeuk"
# Fixed "today" so that date checks do not drift with the calendar.
TODAY = dt.date(2026, 11, 26)


@pytest.fixture(scope="session")
def pack():
    return load_pack(DEFAULT_PACK)


@pytest.fixture(scope="session")
def postcodes():
    return load_postcodes(str(DEFAULT_POSTCODES))


@pytest.fixture(scope="session")
def bundled_db(tmp_path_factory, pack) -> Path:
    """A store holding every bundled police.uk month, imported once per test session.

    Shared: a test that writes to it must copy it first (see ``bundled_copy``).
    """
    from hotspots.importer import import_paths

    path = tmp_path_factory.mktemp("bundled") / "store.sqlite"
    with Store(path) as store:
        import_paths(store, [BUNDLED_MONTHS], pack)
    ensure_users(path)
    return path


def copy_store(source: Path, copy: Path) -> Path:
    """Copy a store and its accounts file (each checkpointed first, so the copy is whole)."""
    import shutil

    with Store(source) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, copy)
    accounts = accounts_path_for(source)
    if accounts.exists():
        with Accounts(accounts) as opened:
            opened.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(accounts, accounts_path_for(copy))
    return copy


@pytest.fixture
def bundled_copy(bundled_db, tmp_path) -> Path:
    """A private copy of the bundled store, for tests that change it."""
    return copy_store(bundled_db, tmp_path / "bundled-copy.sqlite")


@contextmanager
def serving(db: Path):
    """The app on ``db`` served on 127.0.0.1 (a free port, threaded, no tiles); yields its URL."""
    import threading

    from werkzeug.serving import make_server

    from hotspots.web import create_app

    httpd = make_server("127.0.0.1", 0, create_app({"DB_PATH": str(db), "TILES": None}), True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()


@pytest.fixture
def fixture_db(tmp_path, pack) -> Path:
    """A store holding the two small police.uk fixture months (2017-11 and 2017-12)."""
    from hotspots.importer import import_paths

    path = tmp_path / "fixture.sqlite"
    with Store(path) as store:
        import_paths(
            store,
            [
                POLICEUK_FIXTURES / "2017-11-ashfield-sample.csv",
                POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv",
            ],
            pack,
        )
    return path


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def store(db_path):
    with Store(db_path) as s:
        yield s


@pytest.fixture
def run_cli(db_path, capsys, monkeypatch):
    """Run the ``hotspots`` command in-process; returns (exit code, stdout, stderr)."""
    from hotspots.cli import main

    monkeypatch.delenv("HOTSPOTS_DEBUG", raising=False)

    def run(*args: str, db: Path | None = db_path):
        argv = (["--db", str(db)] if db is not None else []) + [str(a) for a in args]
        code = 0
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# Test accounts: name -> (role, password, areas). Created in a store's accounts file on demand.
USERS = {
    "admin": ("admin", "admin-password-1", ()),
    "analyst": ("analyst", "analyst-password-1", ()),
    "viewer": ("viewer", "viewer-password-1", ()),
    "hucknall": ("viewer", "hucknall-password-1", ("Hucknall",)),
}


def ensure_users(db: Path) -> None:
    with Accounts.for_store(db) as accounts:
        for name, (role, password, areas) in USERS.items():
            if accounts.get(name) is None:
                accounts.add(name, role, password, areas)


def csrf_from(html: str) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, name: str = "analyst", password: str | None = None):
    """Sign ``client`` in through the real /login form; returns the answer to the POST."""
    token = csrf_from(client.get("/login").data.decode())
    return client.post(
        "/login",
        data={
            "username": name,
            "password": password or USERS[name][1],
            "csrf_token": token,
        },
    )


def web_client(db: Path, user: str | None = "analyst", **config):
    """A Flask test client on ``db``, signed in as one of USERS (or not signed in: None)."""
    from hotspots.web import create_app

    ensure_users(db)
    app = create_app({"DB_PATH": str(db), "TILES": None, "TESTING": True, **config})
    client = app.test_client()
    if user:
        answer = sign_in(client, user)
        assert answer.status_code == 302, answer.data[:500]
    return client


def http_sign_in(base: str, name: str = "analyst", password: str | None = None):
    """A urllib opener holding a signed-in session on the server at ``base``."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(base + "/login", timeout=30) as page:
        token = csrf_from(page.read().decode())
    form = {"username": name, "password": password or USERS[name][1], "csrf_token": token}
    with opener.open(base + "/login", urllib.parse.urlencode(form).encode(), timeout=30) as answer:
        assert answer.url.rstrip("/") == base, f"sign-in failed: landed on {answer.url}"
    return opener


def csrf(client) -> str:
    """The CSRF token of the client's session (as a page's forms carry it)."""
    with client.session_transaction() as session:
        return session["csrf"]


def pytest_configure(config):
    os.environ.setdefault("COLUMNS", "200")
    # Sessions need a signing key; tests use a fixed one rather than writing instance/config.toml.
    os.environ.setdefault("HOTSPOTS_SECRET_KEY", "test-only-secret-key")
    # A fresh instance folder (uploads, saved mappings), never the developer's instance/.
    import tempfile

    os.environ["HOTSPOTS_INSTANCE"] = tempfile.mkdtemp(prefix="hotspots-test-instance-")
