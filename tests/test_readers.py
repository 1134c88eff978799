"""Every form a user hands files over in: police.uk CSV, folder, zip; local exports by mapping."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from hotspots.errors import MappingError
from hotspots.importer import import_paths
from hotspots.ingest.mapping import ColumnMapping
from hotspots.ingest.parse import parse_dates
from hotspots.ingest.postcodes import normalise
from tests.conftest import POLICEUK_FIXTURES, TODAY

DEC = POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv"
NOV = POLICEUK_FIXTURES / "2017-11-ashfield-sample.csv"


def _rows(path) -> int:
    return len(pd.read_csv(path, dtype=str))


def test_one_police_uk_csv(store, pack):
    report = import_paths(store, [DEC], pack)
    assert report.total("rows_read") == _rows(DEC) == 44
    assert report.total("imported") == 44
    assert store.count() == 44
    stored = store.incidents(columns=["category", "month", "precision", "location"])
    assert set(stored["month"]) == {"2017-12"}
    assert set(stored["precision"]) == {"month"}
    assert "On or near Quarry Dale" in set(stored["location"])


def test_crlf_and_bom_read_the_same(store, pack, tmp_path):
    text = DEC.read_text(encoding="utf-8")
    crlf = tmp_path / "crlf-bom.csv"
    crlf.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    report = import_paths(store, [crlf], pack)
    assert report.files[0].kind == "police.uk street"
    assert report.total("imported") == 44
    # The same rows under LF give the same keys: nothing new.
    again = import_paths(store, [DEC], pack)
    assert again.total("imported") == 0 and again.total("already_stored") == 44


def test_folder_tree(store, pack, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "2017-11-ashfield-street.csv").write_bytes(NOV.read_bytes())
    (tmp_path / "a" / "b" / "2017-12-ashfield-street.csv").write_bytes(DEC.read_bytes())
    (tmp_path / "a" / "notes.txt").write_text("not data")
    report = import_paths(store, [tmp_path / "a"], pack)
    assert len(report.files) == 2
    assert report.total("imported") == _rows(NOV) + _rows(DEC)
    assert [s.reason for s in report.skipped] == ["not a CSV file"]
    assert store.months() == ["2017-11", "2017-12"]


def _police_zip(path):
    """A zip laid out like data.police.uk's download: YYYY-MM/ folders, three kinds of file."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("2017-11/2017-11-nottinghamshire-street.csv", NOV.read_bytes())
        z.writestr("2017-11/2017-11-nottinghamshire-outcomes.csv", "Crime ID,Month\n")
        z.writestr("2017-12/2017-12-nottinghamshire-street.csv", DEC.read_bytes())
        z.writestr("2017-12/2017-12-nottinghamshire-stop-and-search.csv", "Type,Date\n")
    return path


def test_police_uk_zip_skips_outcomes_and_stop_search(store, pack, tmp_path):
    report = import_paths(store, [_police_zip(tmp_path / "download.zip")], pack)
    assert [f.name.split("!")[1] for f in report.files] == [
        "2017-11/2017-11-nottinghamshire-street.csv",
        "2017-12/2017-12-nottinghamshire-street.csv",
    ]
    reasons = {s.name.split("!")[1]: s.reason for s in report.skipped}
    assert "outcomes" in reasons["2017-11/2017-11-nottinghamshire-outcomes.csv"]
    assert "stop-and-search" in reasons["2017-12/2017-12-nottinghamshire-stop-and-search.csv"]
    assert store.count() == _rows(NOV) + _rows(DEC)


def test_zip_and_loose_files_overlap_without_double_counting(store, pack, tmp_path):
    import_paths(store, [_police_zip(tmp_path / "download.zip")], pack)
    again = import_paths(store, [DEC, NOV], pack)
    assert again.total("imported") == 0
    assert store.count() == _rows(NOV) + _rows(DEC)


# -- local exports ------------------------------------------------------------------------
# police.uk has no days or times, so these exports are generated here: real Ashfield positions
# from the December fixture, with made-up date-times, references and categories.


def _december_positions(n=6):
    frame = pd.read_csv(DEC, dtype=str)
    return frame.iloc[:n]


def test_generic_lat_lon_with_uk_datetimes(store, pack, tmp_path):
    rows = _december_positions()
    export = pd.DataFrame(
        {
            "Ref": [f"ASB{i:04d}" for i in range(len(rows))],
            "Reported": [f"{d:02d}/12/2017 2{d % 4}:15" for d in range(1, len(rows) + 1)],
            "Type": ["Noise nuisance", "Rowdy behaviour"] * (len(rows) // 2),
            "Lat": rows["Latitude"],
            "Long": rows["Longitude"],
            "Street": rows["Location"],
        }
    )
    path = tmp_path / "council.csv"
    export.to_csv(path, index=False)
    mapping = ColumnMapping(
        {
            "id": "Ref",
            "datetime": "Reported",
            "category": "Type",
            "lat": "Lat",
            "lon": "Long",
            "location": "Street",
        },
        source="council-asb",
    )
    report = import_paths(store, [path], pack, mapping=mapping)
    assert report.files[0].kind == "local export"
    assert report.total("imported") == len(rows)
    stored = store.incidents(columns=["occurred", "precision", "month", "category"])
    assert stored["occurred"].iloc[0] == "2017-12-01T21:15"
    assert set(stored["precision"]) == {"minute"}
    assert stored["occurred"].iloc[2] == "2017-12-03T23:15"
    assert set(stored["month"]) == {"2017-12"}


def test_generic_bng_with_iso_datetimes(store, pack, tmp_path):
    from hotspots.geocode import lonlat_to_bng

    rows = _december_positions()
    east, north = lonlat_to_bng(rows["Longitude"].astype(float), rows["Latitude"].astype(float))
    export = pd.DataFrame(
        {
            "Incident": range(1000, 1000 + len(rows)),
            "When": [f"2017-12-{d:02d}T0{d}:30:00" for d in range(1, len(rows) + 1)],
            "Class": "Violence",
            "E": east.round(0).astype(int),
            "N": north.round(0).astype(int),
        }
    )
    path = tmp_path / "cad.csv"
    export.to_csv(path, index=False)
    mapping = ColumnMapping(
        {"id": "Incident", "date": "When", "category": "Class", "easting": "E", "northing": "N"},
        source="cad",
    )
    import_paths(store, [path], pack, mapping=mapping)
    stored = store.incidents(columns=["occurred", "ward_code", "easting"])
    assert len(stored) == len(rows)
    assert stored["occurred"].iloc[0] == "2017-12-01T01:30"
    assert stored["easting"].iloc[0] == east.round(0)[0]


def test_generic_postcodes_are_normalised_and_looked_up(store, pack, postcodes, tmp_path):
    table = pd.read_csv(postcodes.source, dtype=str)
    ashfield = table[table["Admin_district_code"] == "E07000170"]["Postcode"].iloc[:3].tolist()
    messy = [ashfield[0].lower(), ashfield[1][:-3] + "   " + ashfield[1][-3:], ashfield[2]]
    export = pd.DataFrame(
        {
            "Date": ["2017-12-04", "2017-12-05", "05/12/2017"],
            "Type": ["Noise", "Noise", "Litter"],
            "Postcode": messy,
        }
    )
    path = tmp_path / "pc.csv"
    export.to_csv(path, index=False)
    mapping = ColumnMapping({"date": "Date", "category": "Type", "postcode": "Postcode"})
    report = import_paths(store, [path], pack, mapping=mapping, postcodes=postcodes)
    assert report.total("imported") == 3
    stored = store.incidents(columns=["easting", "northing", "precision"])
    expected = table.set_index("Postcode").loc[ashfield, ["Eastings", "Northings"]].astype(float)
    assert stored[["easting", "northing"]].to_numpy().tolist() == expected.to_numpy().tolist()
    assert set(stored["precision"]) == {"day"}


def test_postcode_normalisation():
    raw = pd.Series(["ng17 7gw", "NG177GW", " ng1 5aw ", "NG17", "", None, "n1 9gu"])
    assert normalise(raw).tolist() == ["NG17 7GW", "NG17 7GW", "NG1 5AW", "", "", "", "N1 9GU"]


def test_mapping_file_round_trip_and_cli(run_cli, tmp_path):
    rows = _december_positions(4)
    export = pd.DataFrame(
        {
            "Reported On": ["01/12/2017"] * 4,
            "Category": ["Noise"] * 4,
            "Y": rows["Latitude"],
            "X": rows["Longitude"],
        }
    )
    path = tmp_path / "export.csv"
    export.to_csv(path, index=False)
    saved = tmp_path / "mapping.toml"
    code, out, err = run_cli(
        "import",
        path,
        "--map",
        "date=Reported On",
        "--map",
        "category=Category",
        "--map",
        "lat=Y",
        "--map",
        "lon=X",
        "--source",
        "council",
        "--save-mapping",
        saved,
    )
    assert code == 0, err
    assert "4" in out and "Import summary" in out
    mapping = ColumnMapping.from_toml(saved)
    assert mapping.columns["date"] == "Reported On" and mapping.source == "council"
    # The saved mapping re-imports the same file: nothing new.
    code, out, err = run_cli("import", path, "--mapping", saved)
    assert code == 0, err
    assert "already stored" in out


def test_local_export_without_mapping_is_a_clear_error(run_cli, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Reported,Type,Postcode\n01/12/2017,Noise,NG17 7GW\n")
    code, out, err = run_cli("import", path)
    assert code == 2
    assert "not a police.uk street-level file" in err and "--map" in err
    assert "Traceback" not in err + out


def test_mapping_naming_absent_columns_is_a_clear_error(run_cli, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Reported,Type,Postcode\n01/12/2017,Noise,NG17 7GW\n")
    code, out, err = run_cli(
        "import", path, "--map", "date=Date", "--map", "category=Type", "--map", "postcode=Postcode"
    )
    assert code == 2
    assert "no column(s) date='Date'" in err


def test_incomplete_mapping_is_rejected():
    with pytest.raises(MappingError, match="needs .*category"):
        ColumnMapping.from_options(["date=When", "postcode=PC"])
    with pytest.raises(MappingError, match="lon"):
        ColumnMapping.from_options(["date=When", "category=Type", "lat=Y"])


@pytest.mark.parametrize(
    ("text", "occurred", "precision"),
    [
        ("2017-01", "2017-01", "month"),
        ("2017-01-31", "2017-01-31", "day"),
        ("2017-01-31T22:15", "2017-01-31T22:15", "minute"),
        ("2017-01-31 22:15:59", "2017-01-31T22:15", "minute"),
        ("2017-01-31T22:15:00Z", "2017-01-31T22:15", "minute"),
        ("31/01/2017", "2017-01-31", "day"),
        ("31/01/2017 07:05", "2017-01-31T07:05", "minute"),
        ("1/2/2017", "2017-02-01", "day"),
    ],
)
def test_dates_keep_their_precision(text, occurred, precision):
    parsed = parse_dates(pd.Series([text]), TODAY)
    assert parsed.problem[0] == ""
    assert parsed.occurred[0] == occurred
    assert parsed.precision[0] == precision


def test_time_in_its_own_column():
    parsed = parse_dates(
        pd.Series(["31/01/2017", "01/02/2017"]), TODAY, times=pd.Series(["22:40", ""])
    )
    assert parsed.occurred.tolist() == ["2017-01-31T22:40", "2017-02-01"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("31/02/2017", "not a date"),
        ("2017-13", "not a date"),
        ("yesterday", "not a date"),
        ("", "no date"),
        ("1999-12-31", "before 2000"),
        ("2026-12", "in the future"),
        ("2026-11-27", "in the future"),
    ],
)
def test_bad_dates_say_why(text, problem):
    parsed = parse_dates(pd.Series([text]), TODAY)
    assert problem in parsed.problem[0]


def test_current_month_is_not_the_future():
    assert parse_dates(pd.Series(["2026-11", "2026-11-26"]), TODAY).problem.tolist() == ["", ""]


def test_full_code_point_open_zip_and_onspd_are_read(tmp_path):
    """A user can point at other postcode products: both are generated here in their layouts."""
    from hotspots.ingest.postcodes import PostcodeTable

    code_point = tmp_path / "codepo_gb.zip"
    with zipfile.ZipFile(code_point, "w") as z:
        z.writestr(
            "Data/CSV/ng.csv",
            '"NG17 7GW",10,450000,355000,"E92000001"\n"NG1  5AW",10,457000,340000,"E92000001"\n',
        )
        z.writestr("Doc/readme.txt", "not a csv")
    table = PostcodeTable.load(code_point)
    east, north, found = table.lookup(pd.Series(["ng177gw", "NG1 5AW", "NG1 9ZZ"]))
    assert found.tolist() == [True, True, False]
    assert east[:2].tolist() == [450000, 457000] and north[0] == 355000

    onspd = tmp_path / "ONSPD.csv"
    onspd.write_text(
        "pcd,pcd2,pcds,oseast1m,osnrth1m\nNG177GW,NG17 7GW,NG17 7GW,450001,355001\nNG1 1ZZ,,NG1 1ZZ,,\n"
    )
    table = PostcodeTable.load(onspd)
    east, _, found = table.lookup(pd.Series(["NG17 7GW", "NG1 1ZZ"]))
    assert found.tolist() == [True, False]  # a postcode with no grid reference is not placed
    assert east[0] == 450001


def test_summary_by_lsoa_and_category(store, pack):
    from hotspots.config import BUILTIN_GROUPS
    from hotspots.ingest.categories import CategoryGroups
    from hotspots.reports import summary

    import_paths(store, [DEC], pack)
    groups = CategoryGroups.load(BUILTIN_GROUPS)
    by_lsoa = summary(store, pack, groups, by="lsoa").set_index("lsoa_code")["incidents"]
    assert len(by_lsoa) == 74 and by_lsoa.sum() == 44
    expected = pd.read_csv(DEC, dtype=str)["LSOA code"].value_counts()
    assert by_lsoa[by_lsoa > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    by_category = summary(store, pack, groups, by="category").set_index("category")
    assert by_category.loc["Anti-social behaviour", "group"] == "asb"
    assert by_category.loc["Anti-social behaviour", "incidents"] == 12  # 7 + 4 + 1 boundary row
    assert by_category["incidents"].sum() == 44


def test_line_breaks_inside_quoted_values(store, pack, tmp_path):
    """Excel writes multi-line cells in quotes; the fast parser refuses them, the fallback reads them."""
    lines = DEC.read_text().splitlines()
    header, first = lines[0], lines[1].split(",")
    first[6] = '"On or near\nHigh Street"'
    path = tmp_path / "multiline.csv"
    path.write_text(header + "\n" + ",".join(first) + "\n" + lines[2] + "\n")
    report = import_paths(store, [path], pack)
    assert report.total("imported") == 2
    assert "On or near\nHigh Street" in set(store.incidents(columns=["location"])["location"])
