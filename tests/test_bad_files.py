"""The bad-file corpus: every file gets a clear error or a reject report, never a traceback,
and a file that fails leaves nothing behind."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from hotspots.store import Store
from tests.conftest import FIXTURES

BAD = FIXTURES / "bad"
GOOD_LINE = (BAD / "utf8-bom.csv").read_text(encoding="utf-8-sig")

# file -> ("error", words in the message) or ("rejects", {reason: count}, rows imported)
EXPECTED = {
    "empty.csv": ("error", "is empty"),
    "header-only.csv": ("error", "has a header but no rows"),
    "wrong-delimiter.csv": ("error", "not a police.uk street-level file"),
    "utf8-bom.csv": ("rejects", {}, 1),
    "latin1.csv": ("rejects", {}, 1),
    "truncated-last-row.csv": ("rejects", {"missing category": 1}, 1),  # the cut-short row
    "missing-columns.csv": ("error", "lacks the column(s) Crime type"),
    "coordinates-as-words.csv": ("rejects", {"invalid coordinates": 1}, 1),
    "future-dates.csv": ("rejects", {"bad date": 1}, 1),
    "pre-2000-dates.csv": ("rejects", {"bad date": 1}, 1),
    "duplicated-header.csv": ("rejects", {"bad date": 1}, 2),
    "excel-renamed.csv": ("error", "spreadsheet or archive, not CSV text"),
}


def test_the_corpus_is_complete():
    assert sorted(p.name for p in BAD.glob("*.csv")) == sorted(EXPECTED)


def _state(db: Path) -> tuple[int, int, int]:
    with Store(db) as store:
        return store.count(), len(store.rejects()), len(store.imports())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file(name, run_cli, db_path):
    code, out, err = run_cli("import", BAD / name)
    assert "Traceback" not in out + err
    expected = EXPECTED[name]
    if expected[0] == "error":
        assert code == 2, out
        assert expected[1] in err
        assert _state(db_path) == (0, 0, 0)  # nothing half-imported, not even provenance
    else:
        assert code == 0, err
        reasons, imported = expected[1], expected[2]
        with Store(db_path) as store:
            assert store.count() == imported
            assert store.reject_counts().to_dict() == reasons


def test_latin1_text_is_read_as_windows_1252(run_cli, db_path):
    run_cli("import", BAD / "latin1.csv")
    with Store(db_path) as store:
        assert store.incidents(columns=["location"])["location"].tolist() == [
            "On or near Café Street"
        ]


def test_a_ten_megabyte_single_line(run_cli, db_path, tmp_path):
    # Generated here rather than committed: 10 MB with no line break at all.
    path = tmp_path / "one-line.csv"
    path.write_bytes(b"x" * (10 * 1024 * 1024))
    code, out, err = run_cli("import", path)
    assert code == 2 and "Traceback" not in out + err
    assert "no rows" in err or "not a police.uk" in err or "well-formed" in err
    assert _state(db_path) == (0, 0, 0)


def _zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_inside_zip_is_skipped_and_reported(run_cli, db_path, tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("2017-01/2017-01-x-street.csv", GOOD_LINE)
    outer = _zip(
        tmp_path / "outer.zip",
        {"inner.zip": inner.getvalue(), "2017-01/2017-01-x-street.csv": GOOD_LINE},
    )
    code, out, err = run_cli("import", outer)
    assert code == 0, err
    assert "Skipped outer.zip!inner.zip: zip inside a zip" in out
    assert _state(db_path)[0] == 1


def test_zip_with_parent_paths_is_not_read(run_cli, db_path, tmp_path):
    bad = _zip(
        tmp_path / "traversal.zip",
        {"../../etc/2017-01-street.csv": GOOD_LINE, "/abs/2017-01-street.csv": GOOD_LINE},
    )
    code, out, err = run_cli("import", bad)
    assert code == 2 and "Nothing could be imported" in err and "unsafe path" in err
    assert _state(db_path) == (0, 0, 0)
    assert not (tmp_path.parent.parent / "etc").exists()


def test_zip_bomb_is_refused(run_cli, db_path, tmp_path):
    # Generated here: 60 MB of zeros packs into about 60 KB.
    bomb = _zip(tmp_path / "bomb.zip", {"2017-01/2017-01-x-street.csv": b"0" * (60 * 1024 * 1024)})
    assert bomb.stat().st_size < 200_000
    code, out, err = run_cli("import", bomb)
    assert code == 2 and "zip bomb" in err
    assert _state(db_path) == (0, 0, 0)


def test_bad_file_in_a_folder_does_not_stop_the_good_ones(run_cli, db_path, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("empty.csv", "excel-renamed.csv", "future-dates.csv"):
        (folder / name).write_bytes((BAD / name).read_bytes())
    code, out, err = run_cli("import", folder)
    assert code == 0, err
    assert "Skipped empty.csv" in out and "Skipped excel-renamed.csv" in out
    assert _state(db_path)[:2] == (1, 1)
