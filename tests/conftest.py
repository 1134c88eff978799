"""Shared fixtures: the real Ashfield pack, throw-away stores, and a CLI runner."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

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
    return path


@pytest.fixture
def bundled_copy(bundled_db, tmp_path) -> Path:
    """A private copy of the bundled store, for tests that change it."""
    import shutil

    with Store(bundled_db) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = tmp_path / "bundled-copy.sqlite"
    shutil.copyfile(bundled_db, copy)
    return copy


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


def pytest_configure(config):
    os.environ.setdefault("COLUMNS", "200")
