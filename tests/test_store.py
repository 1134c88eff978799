"""The store: idempotent re-imports, police.uk's repeated IDs, rollback, provenance."""

from __future__ import annotations

import hashlib

import pytest

from hotspots.importer import import_paths
from hotspots.store import Store
from tests.conftest import POLICEUK_FIXTURES

DEC = POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv"
REPEATS = POLICEUK_FIXTURES / "2017-01-repeats.csv"


def test_store_uses_wal(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reimport_adds_nothing(store, pack):
    first = import_paths(store, [DEC], pack)
    second = import_paths(store, [DEC], pack)
    assert first.total("imported") == 44
    assert second.total("imported") == 0
    assert second.total("already_stored") == 44
    assert store.count() == 44


def test_police_uk_repeats(store, pack):
    """Shared Crime IDs for different crimes are both kept; genuine ASB repeats survive;
    an exact repeat of a crime row is a duplicate; and re-importing adds nothing."""
    report = import_paths(store, [REPEATS], pack)
    assert report.total("rows_read") == 11
    assert report.total("imported") == 10
    assert report.rejected_by_reason == {"duplicate": 1}
    shared = store.conn.execute(
        "SELECT COUNT(*) FROM incidents WHERE record_id LIKE '9879eedd%'"
    ).fetchone()[0]
    assert shared == 2
    asb = store.conn.execute(
        "SELECT COUNT(*) FROM incidents WHERE category = 'Anti-social behaviour' AND location = 'On or near Hanson Crescent'"
    ).fetchone()[0]
    assert asb == 5
    again = import_paths(store, [REPEATS], pack)
    assert again.total("imported") == 0 and store.count() == 10


def test_overlapping_file_adds_only_new_rows(store, pack, tmp_path):
    lines = DEC.read_text().splitlines(keepends=True)
    first_half = tmp_path / "first.csv"
    first_half.write_text("".join(lines[:21]))
    import_paths(store, [first_half], pack)
    assert store.count() == 20
    report = import_paths(store, [DEC], pack)
    assert report.total("imported") == 24 and report.total("already_stored") == 20


def test_a_failure_midway_leaves_nothing_from_that_file(db_path, pack, monkeypatch):
    import hotspots.store as store_module

    monkeypatch.setattr(store_module, "CHUNK_ROWS", 10)
    calls = []

    def explode_on_third_chunk(stage, done, total):
        if stage.startswith("storing"):
            calls.append(done)
            if len(calls) == 3:
                raise RuntimeError("disk pulled out")

    with Store(db_path) as store:
        with pytest.raises(RuntimeError):
            import_paths(store, [DEC], pack, progress=explode_on_third_chunk)
        assert calls == [10, 20, 30]  # two chunks had been written inside the transaction
        assert store.count() == 0
        assert store.imports().empty
        assert store.rejects().empty
        # The store is still usable and the same file imports cleanly afterwards.
        assert import_paths(store, [DEC], pack).total("imported") == 44


def test_provenance_is_recorded(store, pack):
    import_paths(store, [REPEATS], pack)
    record = store.imports().iloc[0]
    assert record["file_name"].endswith("2017-01-repeats.csv")
    assert record["sha256"] == hashlib.sha256(REPEATS.read_bytes()).hexdigest()
    assert record["rows_read"] == 11
    assert record["imported"] == 10
    assert record["rejected"] == 1
    assert record["rejected_by_reason"] == {"duplicate": 1}
    assert record["started_at"].startswith("20")
    assert record["seconds"] > 0


def test_indexes_serve_the_map_queries(store):
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM incidents WHERE category IN ('Anti-social behaviour')"
        " AND occurred >= '2017-01' AND occurred < '2017-02'"
    ).fetchall()
    assert any("incidents_category_day" in row[-1] for row in plan)
    # A neighbourhood area is its list of wards, filtered within the group's date range.
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM incidents WHERE ward_code IN ('E05010678', 'E05010679')"
        " AND category = 'x' AND occurred >= '2017-01'"
    ).fetchall()
    assert any("incidents_category_day" in row[-1] for row in plan)


def test_unwritable_store_is_a_clear_error(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run_cli("summary", db=blocker / "store.sqlite")
    assert code == 2
    assert "Cannot create the incident store" in err


def test_keys_are_stable_across_versions():
    """Stored keys must never change, or re-importing old files would double count them."""
    import pandas as pd

    from hotspots.ingest.mapping import POLICE_UK
    from hotspots.ingest.parse import record_keys

    table = pd.read_csv(REPEATS, dtype=str, keep_default_na=False)
    keys = record_keys(table, POLICE_UK)
    # First crime row, and the first of the five repeated ASB rows.
    assert keys[0].hex() == KEY_FIRST_CRIME
    assert keys[5].hex() == KEY_FIRST_ASB
    assert len(set(keys[5:10])) == 5


KEY_FIRST_CRIME = "7362369cac90ff182ec5fd6cccecf156"
KEY_FIRST_ASB = "9e15dc4f865a019cbd66f7efdc4fdd18"


def test_periods_respect_precision(store, pack, tmp_path):
    """A month-only record belongs to its month but to no week inside it; dated ones to both."""
    import pandas as pd

    from hotspots.ingest.mapping import ColumnMapping
    from hotspots.periods import parse_period

    rows = pd.read_csv(DEC, dtype=str).iloc[:3]
    export = pd.DataFrame(
        {
            "When": ["2017-12", "2017-12-05", "2017-12-11T00:30"],
            "Type": "Noise",
            "Lat": rows["Latitude"].to_numpy(),
            "Lon": rows["Longitude"].to_numpy(),
        }
    )
    path = tmp_path / "mixed.csv"
    export.to_csv(path, index=False)
    mapping = ColumnMapping({"date": "When", "category": "Type", "lat": "Lat", "lon": "Lon"})
    import_paths(store, [path], pack, mapping=mapping)

    def occurred(start, end=None):
        return store.incidents(parse_period(start, end), columns=["occurred"])["occurred"].tolist()

    assert occurred("2017-12") == ["2017-12", "2017-12-05", "2017-12-11T00:30"]
    assert occurred("2017-W49") == ["2017-12-05"]  # 4–10 December
    assert occurred("2017-W50") == ["2017-12-11T00:30"]
    assert occurred("2017-12-01", "2017-12-05") == ["2017-12-05"]
    assert occurred("2017-11") == []
