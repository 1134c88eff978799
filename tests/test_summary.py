"""Summary figures against counts worked out by hand, and the bundled data fully accounted for."""

from __future__ import annotations

import csv
import io

import geopandas as gpd
import pandas as pd
import pytest

from hotspots.importer import import_paths
from hotspots.ingest.categories import CategoryGroups
from hotspots.periods import parse_period
from hotspots.reports import summary
from hotspots.store import Store
from tests.conftest import BUNDLED_MONTHS, POLICEUK_FIXTURES

DEC = POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv"
NOV = POLICEUK_FIXTURES / "2017-11-ashfield-sample.csv"

HUCKNALL_NORTH, SELSTON = "E05010679", "E05010689"
SKEGBY, LEAMINGTON, ASHFIELDS, ABBEY_HILL = "E05010690", "E05010687", "E05010675", "E05010673"


@pytest.fixture
def fixture_store(store, pack):
    import_paths(store, [NOV, DEC], pack)
    return store


@pytest.fixture(scope="module")
def groups():
    from hotspots.config import BUILTIN_GROUPS

    return CategoryGroups.load(BUILTIN_GROUPS)


def _by_ward(table):
    return table.set_index("ward_code")["incidents"]


def test_ward_counts_by_hand(fixture_store, pack, groups):
    # Counted from tests/data/README.md's description of the December fixture.
    table = summary(fixture_store, pack, groups, parse_period("2017-12"), by="ward")
    counts = _by_ward(table)
    expected = {
        HUCKNALL_NORTH: 23,
        SELSTON: 15,
        SKEGBY: 1,
        LEAMINGTON: 3,
        ASHFIELDS: 1,
        ABBEY_HILL: 1,
    }
    assert counts[counts > 0].to_dict() == expected
    assert len(table) == 23  # every ward listed, zeros included
    assert list(table.columns) == [
        "ward_code",
        "ward_name",
        "area",
        "incidents",
        "population",
        "rate_per_1000",
    ]
    north = table.set_index("ward_code").loc[HUCKNALL_NORTH]
    assert north["ward_name"] == "Hucknall North" and north["area"] == "Hucknall"
    assert north["population"] == 10570  # 2017, the pack year nearest the period
    assert north["rate_per_1000"] == pytest.approx(2.18)  # 23 / 10,570 × 1,000


def test_group_and_multi_month_counts_by_hand(fixture_store, pack, groups):
    asb = _by_ward(summary(fixture_store, pack, groups, parse_period("2017-12"), "asb"))
    assert asb[asb > 0].to_dict() == {HUCKNALL_NORTH: 7, SELSTON: 4, ABBEY_HILL: 1}
    violence = _by_ward(summary(fixture_store, pack, groups, parse_period("2017-12"), "violence"))
    assert violence[violence > 0].to_dict() == {HUCKNALL_NORTH: 6, SELSTON: 3, LEAMINGTON: 2}
    both = _by_ward(summary(fixture_store, pack, groups, parse_period("2017-11", "2017-12"), "asb"))
    assert both[HUCKNALL_NORTH] == 15  # 8 in November + 7 in December


def test_area_counts_and_population_by_hand(fixture_store, pack, groups):
    table = summary(fixture_store, pack, groups, parse_period("2017-12"), by="area").set_index(
        "area"
    )
    assert table["incidents"].to_dict() == {
        "Hucknall": 23,
        "Sutton-in-Ashfield": 5,  # Skegby 1 + Leamington 3 + Ashfields 1
        "Kirkby-in-Ashfield": 1,
        "Selston, Jacksdale & Underwood": 15,
    }
    assert table.loc["Hucknall", "population"] == 34847
    assert table["population"].sum() == 126164  # the 2017 district total
    assert table.loc["Hucknall", "rate_per_1000"] == pytest.approx(0.66)


def test_population_year_is_the_nearest_the_pack_has(pack):
    assert pack.population_year(2016) == 2016
    assert pack.population_year(2019) == 2017
    assert pack.population_year(2010) == 2015


def test_edited_groups_apply_without_reimport(fixture_store, pack, tmp_path):
    edited = tmp_path / "groups.toml"
    edited.write_text(
        '[groups.violence]\nlabel = "Violence"\n'
        'categories = ["Violence and sexual offences", "Robbery", "Public order"]\n'
    )
    groups = CategoryGroups.load(edited)
    counts = _by_ward(summary(fixture_store, pack, groups, parse_period("2017-12"), "violence"))
    # Adds Selston's 2 public order offences to its 3 violence offences.
    assert counts[SELSTON] == 5
    assert groups.group_of("Criminal damage and arson") == "criminal-damage-and-arson"


def test_summary_cli_csv(run_cli, fixture_store):
    code, out, err = run_cli(
        "summary",
        "--from",
        "2017-12",
        "--to",
        "2017-12",
        "--group",
        "asb",
        "--by",
        "ward",
        "--format",
        "csv",
    )
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out), dtype={"ward_code": str})
    assert table.set_index("ward_code").loc[HUCKNALL_NORTH, "incidents"] == 7
    code, out, err = run_cli("summary", "--by", "area", "--format", "json", "--from", "2017-12")
    assert code == 0, err
    assert '"area":"Hucknall"' in out.replace(" ", "")


def test_unknown_group_is_a_clear_error(run_cli, fixture_store):
    code, out, err = run_cli("summary", "--group", "burglaries")
    assert code == 2
    assert "No incidents in the store belong to group 'burglaries'" in err and "asb" in err


def _independent_ward_counts(pack) -> tuple[pd.Series, int]:
    """Ward counts of every bundled row, worked out without the product's geocoder:
    csv module, geopandas sjoin within 25 m, geopandas overlay for ward/LSOA shared area."""
    rows = []
    for path in sorted(BUNDLED_MONTHS.rglob("*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows += list(csv.DictReader(handle))
    frame = pd.DataFrame(rows)
    points = gpd.GeoDataFrame(
        frame[["LSOA code"]],
        geometry=gpd.points_from_xy(
            frame["Longitude"].astype(float), frame["Latitude"].astype(float)
        ),
        crs="EPSG:4326",
    ).to_crs(27700)
    candidates = gpd.sjoin(
        points, pack.wards[["ward_code", "geometry"]], predicate="dwithin", distance=25
    )
    pieces = gpd.overlay(
        pack.wards[["ward_code", "geometry"]],
        pack.lsoas[["lsoa_code", "geometry"]],
        keep_geom_type=True,
    )
    shared = pieces.assign(m2=pieces.area).set_index(["ward_code", "lsoa_code"])["m2"]
    key = pd.MultiIndex.from_arrays([candidates["ward_code"], candidates["LSOA code"]])
    candidates["shared"] = shared.reindex(key).fillna(0).to_numpy()
    ward_geoms = pack.wards.set_index("ward_code").geometry
    candidates["distance"] = candidates.geometry.distance(
        ward_geoms.loc[candidates["ward_code"]].reset_index(drop=True).set_axis(candidates.index)
    )
    best = candidates.sort_values(
        ["shared", "distance", "ward_code"], ascending=[False, True, True]
    )
    chosen = best[~best.index.duplicated(keep="first")]["ward_code"]
    return chosen.value_counts(), len(frame)


def test_bundled_data_accounted_for_and_matches_independent_count(run_cli, pack, db_path, tmp_path):
    code, out, err = run_cli("import", BUNDLED_MONTHS)
    assert code == 0, err
    assert "Ward/LSOA agreement: 100.00%" in out
    code, out, err = run_cli("summary", "--by", "ward", "--format", "csv")
    assert code == 0, err
    product = pd.read_csv(io.StringIO(out), dtype={"ward_code": str}).set_index("ward_code")[
        "incidents"
    ]
    independent, rows_in_files = _independent_ward_counts(pack)
    assert product[product > 0].sort_index().to_dict() == independent.sort_index().to_dict()
    # Every row read is either counted in a ward or rejected with a reason.
    exported = tmp_path / "rejects.csv"
    code, out, err = run_cli("rejects", "--export", exported)
    assert code == 0, err
    rejected = pd.read_csv(exported)
    assert rejected["reason"].notna().all()
    assert product.sum() + len(rejected) == rows_in_files
    # A second import adds nothing.
    with Store(db_path) as store:
        before = store.count()
    code, out, err = run_cli("import", BUNDLED_MONTHS)
    assert code == 0, err
    with Store(db_path) as store:
        assert store.count() == before
        assert store.imports()["imported"].iloc[-16:].sum() == 0
