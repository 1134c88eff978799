"""Ward, LSOA and area assignment, including the boundary rule, on the real Ashfield pack."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.geocode import (
    BOUNDARY_LSOA,
    BOUNDARY_NEAREST,
    EDGE,
    INSIDE,
    OUTSIDE,
    lonlat_to_bng,
    lsoa_agreement,
    place,
)
from hotspots.importer import import_paths
from tests.conftest import BUNDLED_MONTHS, POLICEUK_FIXTURES

DEC = POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv"


def _bng(frame):
    return lonlat_to_bng(frame["Longitude"].astype(float), frame["Latitude"].astype(float))


def _majority_ward(pack, lsoa_code):
    """Independent check: the ward holding most of an LSOA, by geopandas overlay."""
    lsoa = pack.lsoas[pack.lsoas["lsoa_code"] == lsoa_code]
    pieces = gpd.overlay(pack.wards, lsoa, how="intersection", keep_geom_type=True)
    return pieces.loc[pieces.area.idxmax(), "ward_code"]


def test_ward_lsoa_and_area_on_fixture(pack):
    rows = pd.read_csv(DEC, dtype=str)
    x, y = _bng(rows)
    placed = place(x, y, pack, rows["LSOA code"].to_numpy())
    # The fixture's rows come from LSOAs wholly inside Hucknall North or Selston, except six
    # boundary rows; the LSOA it lands in is always the one police.uk recorded.
    assert (placed.lsoa_code == rows["LSOA code"].to_numpy()).all()
    wards = pd.Series(placed.ward_code)
    assert (wards == "E05010679").sum() == 23  # Hucknall North
    assert (wards == "E05010689").sum() == 15  # Selston
    areas = pd.Series(placed.area)
    assert (areas == "Hucknall").sum() == 23
    assert (areas == "Selston, Jacksdale & Underwood").sum() == 15
    assert set(placed.rule) == {INSIDE, BOUNDARY_LSOA}


def test_boundary_points_follow_the_recorded_lsoa(pack):
    rows = pd.read_csv(DEC, dtype=str)
    x, y = _bng(rows)
    placed = place(x, y, pack, rows["LSOA code"].to_numpy())
    boundary = np.flatnonzero(placed.rule == BOUNDARY_LSOA)
    assert len(boundary) == 6
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(x[boundary], y[boundary]), crs=pack.wards.crs
    )
    in_polygon = gpd.sjoin(points, pack.wards, predicate="within")["ward_code"].to_numpy()
    for k, i in enumerate(boundary):
        expected = _majority_ward(pack, rows["LSOA code"].iloc[i])
        assert placed.ward_code[i] == expected
        # These six are exactly the rows point-in-polygon gets wrong.
        assert in_polygon[k] != expected


def test_without_lsoa_the_nearest_ward_wins(pack):
    # A point 10 m inside Hucknall Central from its boundary with Hucknall North.
    central = pack.wards.set_index("ward_code").geometry["E05010678"]
    north = pack.wards.set_index("ward_code").geometry["E05010679"]
    border = shapely.intersection(central.boundary, north.boundary)
    on_border = shapely.line_interpolate_point(shapely.line_merge(border), 0.5, normalized=True)
    inside = [
        p
        for p in shapely.buffer(on_border, 10).exterior.coords
        if central.contains(shapely.Point(p)) and central.boundary.distance(shapely.Point(p)) > 5
    ]
    px, py = inside[0]
    placed = place(np.array([px]), np.array([py]), pack)
    assert placed.rule[0] == BOUNDARY_NEAREST
    assert placed.ward_code[0] == "E05010678"


def test_just_outside_the_edge_is_kept_far_outside_is_rejected(pack):
    district = pack.district
    edge = shapely.get_exterior_ring(max(shapely.get_parts(district), key=lambda g: g.area))
    point = shapely.line_interpolate_point(edge, 0.3, normalized=True)
    centre = district.centroid
    # Step outwards from the edge, away from the district's centre.
    dx, dy = point.x - centre.x, point.y - centre.y
    unit = np.array([dx, dy]) / np.hypot(dx, dy)
    candidates = [np.array([point.x, point.y]) + unit * d for d in (15, 500)]
    near, far = (c for c in candidates)
    assert (
        not district.contains(shapely.Point(near)) and district.distance(shapely.Point(near)) < 25
    )
    placed = place(np.array([near[0], far[0]]), np.array([near[1], far[1]]), pack)
    assert placed.rule.tolist() == [EDGE, OUTSIDE]
    assert placed.ward_code[0] is not None and placed.ward_code[1] is None


def test_a_neighbouring_districts_lsoa_at_the_edge_is_outside(pack):
    district = pack.district
    edge = shapely.get_exterior_ring(max(shapely.get_parts(district), key=lambda g: g.area))
    point = shapely.line_interpolate_point(edge, 0.6, normalized=True)
    placed = place(np.array([point.x]), np.array([point.y]), pack, np.array(["E01028000"]))
    assert placed.rule[0] == OUTSIDE


def test_agreement_with_police_lsoa_on_every_bundled_month(store, pack):
    """The accuracy bar: >= 99.5% of rows land in a ward overlapping their police.uk LSOA."""
    report = import_paths(store, [BUNDLED_MONTHS], pack)
    assert report.lsoa_agreement >= 0.995
    stored = store.incidents(columns=["ward_code", "source_lsoa"])
    agreeing, comparable = lsoa_agreement(pack, stored["ward_code"], stored["source_lsoa"])
    assert comparable == report.total("imported")
    assert agreeing / comparable >= 0.995
    # Point-in-polygon alone does measurably worse on the same rows (about 98%).
    points = gpd.GeoDataFrame(stored, geometry=stored.geometry, crs=pack.wards.crs)
    joined = gpd.sjoin(
        points,
        pack.wards[["ward_code", "geometry"]],
        predicate="within",
        how="left",
        lsuffix="x",
        rsuffix="pip",
    )
    joined = joined[~joined.index.duplicated()]
    pip_agreeing, _ = lsoa_agreement(pack, joined["ward_code_pip"], joined["source_lsoa"])
    assert pip_agreeing / comparable < 0.99
