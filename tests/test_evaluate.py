"""PAI, PEI, RRI and hit rate on an example worked by hand; folds; the back-test commands."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.evaluate import folds, score
from hotspots.methods import StudyArea
from hotspots.methods.base import describe

SQUARE = shapely.box(0, 0, 1000, 1000)  # A = 1 km²


def _area() -> StudyArea:
    wards = gpd.GeoDataFrame(
        {"ward_code": ["W1"], "ward_name": ["Square"], "area": ["Test"]},
        geometry=[SQUARE],
        crs=27700,
    )
    return StudyArea("Square", SQUARE, wards)


def _points(*groups: tuple[float, float, int]) -> gpd.GeoDataFrame:
    xs, ys = [], []
    for x, y, n in groups:
        xs += [x] * n
        ys += [y] * n
    return gpd.GeoDataFrame(
        {"occurred": ["2017-01"] * len(xs)}, geometry=gpd.points_from_xy(xs, ys), crs=27700
    )


def test_metrics_by_hand():
    area = _area()
    hotspot = describe([shapely.box(0, 0, 100, 100)], _points((50, 50, 1)), area)  # a = 1% of A
    train = _points((50, 50, 5), (550, 550, 15))  # N_train = 20, 5 inside
    test = _points((50, 50, 4), (550, 550, 5), (950, 950, 1))  # N = 10, 4 inside
    s = score(hotspot, train, test, area, cell=100)
    assert s.captured == 4 and s.total == 10
    assert s.area_share == pytest.approx(0.01)
    assert s.hit_rate == pytest.approx(0.4)  # 4 / 10
    assert s.pai == pytest.approx(40.0)  # 0.4 / 0.01
    # The best one-cell (100 m) choice holds the 5 incidents at (550, 550): PEI = 4 / 5.
    assert s.pei == pytest.approx(0.8)
    # RRI = (4 / 5) / (10 / 20) = 1.6
    assert s.rri == pytest.approx(1.6)


def test_pei_takes_part_of_the_next_best_cell():
    area = _area()
    hotspot = describe([shapely.box(0, 0, 150, 100)], _points((50, 50, 1)), area)  # 1.5 cells
    test = _points((50, 50, 4), (550, 550, 5), (950, 950, 1))
    s = score(hotspot, _points((50, 50, 1)), test, area, cell=100)
    # n* = 5 (busiest cell) + 0.5 × 4 (half the next) = 7
    assert s.pei == pytest.approx(4 / 7)


def test_empty_training_capture_gives_no_rri():
    area = _area()
    hotspot = describe([shapely.box(0, 0, 100, 100)], _points((50, 50, 1)), area)
    s = score(hotspot, _points((550, 550, 3)), _points((50, 50, 2)), area, cell=100)
    assert np.isnan(s.rri) and s.hit_rate == 1.0


def test_folds_roll_and_never_span_a_gap():
    months = (
        [f"2016-{m}" for m in ("11", "12")]
        + [f"2017-{m:02d}" for m in range(1, 13)]
        + ["2018-01", "2019-09"]
    )
    windows = folds(months, train=3, test=1)
    assert len(windows) == 12
    assert windows[0][0].label == "2016-11 to 2017-01" and windows[0][1].label == "2017-02"
    assert windows[-1][1].label == "2018-01"
    assert folds(months, train=3, test=2)[1][1].label == "2017-04 to 2017-05"


def test_weekly_folds_for_dated_data():
    windows = folds(["2017-01", "2017-02"], train=4, test=1, unit="week")
    first_train, first_test = windows[0]
    assert first_train.start.isoformat() == "2017-01-02"  # the first Monday
    assert (first_test.end - first_test.start).days == 7


def test_evaluate_command_on_bundled_data(run_cli, bundled_db):
    code, out, err = run_cli(
        "evaluate", "--group", "violence", "--methods", "grid,kde,gistar", db=bundled_db
    )
    assert code == 0, err
    for method in ("grid", "kde", "gistar"):
        assert f"│ {method}" in out
    assert "Recommended for violence:" in out and "12 back-test folds" in out
    code, out, err = run_cli(
        "evaluate", "--group", "asb", "--methods", "grid,kde", "--format", "csv", db=bundled_db
    )
    table = pd.read_csv(io.StringIO(out))
    assert set(table["config"]) == {"grid", "kde"}
    assert (table["pai"] > 1).all() and table["pei"].between(0, 1.2).all()


def test_detect_command_writes_wgs84_geojson(run_cli, bundled_db, tmp_path):
    out_file = tmp_path / "asb.geojson"
    code, out, err = run_cli(
        "detect", "--group", "asb", "--from", "2017-10", "--to", "2017-12", "--method", "kde",
        "--param", "bandwidth=400", "--coverage", "0.02", "--out", out_file, db=bundled_db,
    )  # fmt: skip
    assert code == 0, err
    assert "Cell size 250 m" in err
    hotspots = gpd.read_file(out_file)
    assert hotspots.crs.to_epsg() == 4326
    assert list(hotspots["rank"]) == list(range(1, len(hotspots) + 1))
    assert hotspots["top_streets"].str.startswith("On or near").all()
    assert f"Wrote {len(hotspots)} hotspot(s)" in out
    geojson = json.loads(out_file.read_text())
    assert -1.4 < geojson["features"][0]["geometry"]["coordinates"][0][0][0] < -1.1


def test_detect_rejects_bad_parameters_in_words(run_cli, bundled_db):
    code, out, err = run_cli(
        "detect", "--group", "asb", "--from", "2017-10", "--param", "bandwidth=5", db=bundled_db
    )
    assert code == 2 and "bandwidth must be at least 25 m" in err
    code, out, err = run_cli(
        "detect", "--group", "asb", "--from", "2017-10", "--method", "magic", db=bundled_db
    )
    assert code == 2 and "There is no method 'magic'" in err


def test_methods_command_lists_every_parameter(run_cli):
    code, out, err = run_cli("methods")
    assert code == 0, err
    for name in ("grid", "kde", "gistar", "dbscan", "hdbscan", "prospective"):
        assert name in out
    assert "bandwidth" in out and "min_density" in out and "half_life_days" in out


def test_recommend_saves_and_detect_uses_it(run_cli, bundled_copy):
    bundled_db = bundled_copy
    from hotspots.evaluate import Recommendation, save_recommendation, saved_recommendation
    from hotspots.store import Store

    with Store(bundled_db) as store:
        assert saved_recommendation(store, "shoplifting") is None
        save_recommendation(
            store, Recommendation("shoplifting", "gistar", {"cell_size": 200}, 0.3, 9.0, 12), 0.02
        )
    code, out, err = run_cli("detect", "--group", "shoplifting", "--from", "2017-12", db=bundled_db)
    assert code == 0, err
    assert "Using the back-test recommendation for shoplifting: gistar." in err
    assert "Getis-Ord Gi*" in out


def test_a_seventh_method_needs_only_its_module_and_a_registry_line(
    run_cli, bundled_db, monkeypatch
):
    """A new module (here: every incident's cell as its own hotspot) is picked up everywhere."""
    import types

    from hotspots import methods
    from hotspots.methods import base

    module = types.ModuleType("hotspots.methods.busiest")
    module.NAME, module.TITLE = "busiest", "Busiest single cells"
    module.PARAMS = base.ParamSpec((base.Param("cell_size", 100.0, 25, 1000, "m", "Cell size."),))

    def detect(incidents, params, boundary, coverage=None):
        values = module.PARAMS.resolve(params)
        finish = base.timed(module.NAME, values, incidents)
        grid = base.Grid.covering(boundary.geometry, values["cell_size"])
        mask = grid.inside(boundary.geometry)
        counts = grid.counts(*base.xy(incidents))
        return base.surface_result(
            module.NAME, finish, grid, counts, mask, incidents, boundary, coverage, counts >= 3, []
        )

    module.detect = detect
    monkeypatch.setitem(methods.REGISTRY, "busiest", module)  # the registry line
    code, out, err = run_cli("methods")
    assert "busiest" in out
    code, out, err = run_cli(
        "evaluate", "--group", "asb", "--methods", "busiest,grid", db=bundled_db
    )
    assert code == 0, err
    assert "│ busiest" in out


def test_detect_writes_geopackage(run_cli, bundled_db, tmp_path):
    out_file = tmp_path / "violence.gpkg"
    code, out, err = run_cli(
        "detect",
        "--group",
        "violence",
        "--from",
        "2017-12",
        "--method",
        "grid",
        "--out",
        out_file,
        db=bundled_db,
    )
    assert code == 0, err
    hotspots = gpd.read_file(out_file, layer="hotspots")
    assert hotspots.crs.to_epsg() == 27700 and len(hotspots) >= 1
