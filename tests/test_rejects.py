"""Every reject reason, each from a crafted row; rejected rows keep their original text."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from hotspots.importer import import_paths
from hotspots.ingest.mapping import POLICE_UK_COLUMNS, ColumnMapping
from tests.conftest import POLICEUK_FIXTURES, TODAY

GOOD = pd.read_csv(
    POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv", dtype=str, keep_default_na=False
).iloc[0]


def _police_row(**changes) -> list[str]:
    row = GOOD.copy()
    for column, value in changes.items():
        row[column.replace("_", " ")] = value
    return [row[c] for c in POLICE_UK_COLUMNS]


def _write(path, header, rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


CASES = {
    "no coordinates": {"Longitude": "", "Latitude": ""},
    "invalid coordinates": {"Longitude": "0", "Latitude": "0"},  # null island
    "outside district": {"Longitude": "-1.1498", "Latitude": "52.9548"},  # Nottingham city centre
    "bad date": {"Month": "2017-13"},
    "missing category": {"Crime type": "  "},
}


@pytest.mark.parametrize("reason", list(CASES))
def test_each_police_uk_reject_reason(store, pack, tmp_path, reason):
    changes = {k.replace(" ", "_"): v for k, v in CASES[reason].items()}
    bad = _police_row(**changes)
    path = tmp_path / "one-bad.csv"
    _write(path, POLICE_UK_COLUMNS, [_police_row(), bad])
    report = import_paths(store, [path], pack, today=TODAY)
    assert report.total("imported") == 1
    assert report.rejected_by_reason == {reason: 1}
    rejects = store.rejects()
    assert rejects["reason"].tolist() == [reason]
    assert rejects["row_number"].tolist() == [3]  # header is line 1
    assert next(csv.reader([rejects["raw"].iloc[0]])) == bad
    assert rejects["detail"].iloc[0]


def test_more_invalid_coordinates(store, pack, tmp_path):
    rows = [
        _police_row(Longitude="west", Latitude="north"),  # coordinates as words
        _police_row(Longitude="2.35", Latitude="48.85"),  # Paris: not Great Britain
        _police_row(Longitude="-1.2", Latitude=""),  # half a coordinate is none
    ]
    path = tmp_path / "coords.csv"
    _write(path, POLICE_UK_COLUMNS, rows)
    report = import_paths(store, [path], pack, today=TODAY)
    assert report.rejected_by_reason == {"invalid coordinates": 2, "no coordinates": 1}


def test_future_and_ancient_dates_are_bad(store, pack, tmp_path):
    path = tmp_path / "dates.csv"
    _write(path, POLICE_UK_COLUMNS, [_police_row(Month="2027-01"), _police_row(Month="1999-12")])
    report = import_paths(store, [path], pack, today=TODAY)
    assert report.rejected_by_reason == {"bad date": 2}
    details = store.rejects()["detail"].tolist()
    assert any("in the future" in d for d in details) and any("before 2000" in d for d in details)


def test_unknown_postcode_and_duplicate_id_in_local_export(store, pack, postcodes, tmp_path):
    table = pd.read_csv(postcodes.source, dtype=str)
    known = table[table["Admin_district_code"] == "E07000170"]["Postcode"].iloc[0]
    path = tmp_path / "council.csv"
    _write(
        path,
        ["Ref", "Date", "Type", "Postcode"],
        [
            ["A1", "2017-12-01", "Noise", known],
            ["A2", "2017-12-02", "Noise", "ZZ99 9ZZ"],
            ["A1", "2017-12-03", "Noise", known],
            ["A3", "2017-12-04", "Noise", "not a postcode"],
            ["A4", "2017-12-05", "Noise", ""],
        ],
    )
    mapping = ColumnMapping(
        {"id": "Ref", "date": "Date", "category": "Type", "postcode": "Postcode"}
    )
    report = import_paths(store, [path], pack, mapping=mapping, postcodes=postcodes, today=TODAY)
    assert report.total("imported") == 1
    assert report.rejected_by_reason == {"unknown postcode": 2, "duplicate": 1, "no coordinates": 1}
    rejects = store.rejects().set_index("row_number")
    assert rejects.loc[4, "reason"] == "duplicate"
    assert "ZZ99 9ZZ" in rejects.loc[3, "detail"]


def test_postcode_used_when_coordinates_are_blank(store, pack, postcodes, tmp_path):
    table = pd.read_csv(postcodes.source, dtype=str)
    known = table[table["Admin_district_code"] == "E07000170"]["Postcode"].iloc[5]
    path = tmp_path / "mixed.csv"
    _write(
        path,
        ["Date", "Type", "Lat", "Lon", "Postcode"],
        [
            ["2017-12-01", "Noise", "", "", known],
            ["2017-12-01", "Noise", GOOD["Latitude"], GOOD["Longitude"], ""],
        ],
    )
    mapping = ColumnMapping(
        {"date": "Date", "category": "Type", "lat": "Lat", "lon": "Lon", "postcode": "Postcode"}
    )
    report = import_paths(store, [path], pack, mapping=mapping, postcodes=postcodes, today=TODAY)
    assert report.total("imported") == 2


def test_every_row_is_accounted_for(store, pack, tmp_path):
    rows = [_police_row()] + [
        _police_row(**{k.replace(" ", "_"): v for k, v in change.items()})
        for change in CASES.values()
    ]
    path = tmp_path / "mixed.csv"
    _write(path, POLICE_UK_COLUMNS, rows)
    report = import_paths(store, [path], pack, today=TODAY)
    assert report.total("rows_read") == len(rows)
    assert report.total("imported") + report.total("rejected") == len(rows)
    assert store.count() + len(store.rejects()) == len(rows)
