"""Every method finds planted hotspots, honours coverage and shares one interface.

The incidents here are synthetic (police.uk has no planted truth): uniform background noise over
Ashfield plus three Gaussian clusters of known size at known places, generated with a fixed seed.
"""

from __future__ import annotations

import inspect

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.errors import HotspotsError
from hotspots.methods import REGISTRY, StudyArea, get_method
from hotspots.methods.base import default_cell_size

# Planted centres (BNG), largest cluster first: Hucknall, Sutton, Kirkby town centres.
PLANTED = [
    ((453_700.0, 349_000.0), 240),
    ((449_500.0, 359_000.0), 160),
    ((449_900.0, 356_000.0), 100),
]
BACKGROUND = 500


def _points_in(geometry, n, rng):
    minx, miny, maxx, maxy = geometry.bounds
    xs, ys = [np.empty(0)], [np.empty(0)]
    while sum(map(len, xs)) < n:
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        keep = shapely.contains_xy(geometry, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def synthetic(
    boundary: StudyArea, seed: int = 1, planted=PLANTED, background=BACKGROUND
) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x, y = _points_in(boundary.geometry, background, rng)
    streets = [f"On or near Background Road {k % 40}" for k in range(background)]
    for k, ((cx, cy), n) in enumerate(planted):
        x = np.append(x, rng.normal(cx, 60, n))
        y = np.append(y, rng.normal(cy, 60, n))
        streets += [f"On or near Planted Street {k}"] * n
    months = rng.choice(["2017-10", "2017-11", "2017-12"], len(x))
    return gpd.GeoDataFrame(
        {"occurred": months, "location": streets},
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:27700",
    )


@pytest.fixture(scope="module")
def district(pack):
    return StudyArea.from_pack(pack)


@pytest.fixture(scope="module")
def planted(district):
    return synthetic(district)


TUNED = {
    "grid": {},
    "kde": {},
    "gistar": {},
    "dbscan": {"eps": 100, "min_samples": 20},
    "hdbscan": {},
    "prospective": {},
}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_finds_planted_hotspots_in_order(name, district, planted):
    result = get_method(name).detect(planted, TUNED[name], district, None)
    hotspots = result.hotspots
    assert len(hotspots) >= 3, result.notes
    cell = default_cell_size(district)
    top = hotspots.iloc[:3]
    for rank, ((cx, cy), _n) in enumerate(PLANTED):
        # Match each planted cluster to the hotspot containing or nearest its centre.
        centre = shapely.Point(cx, cy)
        distances = top.geometry.distance(centre).to_numpy()
        assert distances.min() < 1, f"{name}: planted cluster {rank} not among the top three"
        found = top.iloc[int(np.argmin(distances))]
        assert found["rank"] == rank + 1, f"{name}: planted cluster {rank} ranked {found['rank']}"
        assert found.geometry.centroid.distance(centre) <= cell, (
            f"{name}: centre off by more than a cell"
        )
        assert found["top_streets"].startswith(f"On or near Planted Street {rank}")


@pytest.mark.parametrize("name", ["grid", "kde", "gistar", "prospective"])
@pytest.mark.parametrize("coverage", [0.01, 0.02, 0.05])
def test_surface_methods_cover_the_requested_share(name, coverage, district, planted):
    result = get_method(name).detect(planted, {}, district, coverage)
    cell_area = result.params["cell_size"] ** 2
    covered = result.hotspots["area_m2"].sum()
    # Cells straddling the district edge are clipped, so allow a cell either way.
    assert abs(covered - coverage * district.area_m2) <= cell_area + 1e-6 * district.area_m2


@pytest.mark.parametrize("name", ["dbscan", "hdbscan"])
def test_cluster_methods_stay_within_coverage(name, district, planted):
    result = get_method(name).detect(planted, TUNED[name], district, 0.02)
    assert result.hotspots["area_m2"].sum() <= 0.02 * district.area_m2
    assert len(result.hotspots) >= 1


def test_gistar_on_pure_noise_flags_almost_nothing(district):
    noise = synthetic(district, seed=7, planted=[], background=3000)
    result = get_method("gistar").detect(noise, {}, district, None)
    hot_cells = int(result.notes[-1].split()[0])
    assert hot_cells <= 3


def test_gistar_matches_esda(district):
    """Our FFT Gi* z-scores equal esda's G_Local(star=True) with binary distance-band weights."""
    from esda import G_Local
    from libpysal.weights import DistanceBand

    from hotspots.methods.base import Grid
    from hotspots.methods.gistar import band_kernel, gi_star

    rng = np.random.default_rng(3)
    square = shapely.box(0, 0, 2000, 1500)
    grid = Grid.covering(square, 100)
    mask = grid.inside(square)
    mask[:3, :4] = False  # an irregular study area
    counts = rng.poisson(2, grid.shape).astype(float)
    counts[8:11, 5:8] += 12
    ours = gi_star(counts, mask, band_kernel(250, 100))

    gx, gy = grid.centres()
    coords = np.column_stack([gx[mask], gy[mask]])
    weights = DistanceBand(coords, threshold=250 + 1e-6, binary=True, silence_warnings=True)
    theirs = G_Local(counts[mask], weights, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(ours[mask], theirs.Zs, rtol=1e-6, atol=1e-6)


def test_permutation_p_values_find_a_clear_hotspot(pack, planted):
    """Permutation p-values on one area: few enough cells for 999 permutations to pass FDR."""
    hucknall = StudyArea.from_pack(pack, "Hucknall")
    inside = planted[planted.within(hucknall.geometry)]
    analytical = get_method("gistar").detect(inside, {"cell_size": 250}, hucknall, None)
    settings = {"cell_size": 250, "permutations": 999, "seed": 1}
    permuted = get_method("gistar").detect(inside, settings, hucknall, None)
    assert len(permuted.hotspots) >= 1
    assert permuted.hotspots.iloc[0].geometry.distance(shapely.Point(PLANTED[0][0])) < 1
    assert permuted.hotspots.iloc[0].geometry.intersects(analytical.hotspots.iloc[0].geometry)


def test_too_few_permutations_are_announced(district, planted):
    result = get_method("gistar").detect(planted, {"permutations": 99}, district, None)
    assert any("few or none can pass FDR" in note for note in result.notes)


def test_dbscan_merges_duplicates_and_min_density(district):
    base = synthetic(district, seed=2, planted=[((453_700.0, 349_000.0), 50)], background=100)
    doubled = pd.concat([base, base], ignore_index=True)
    one = get_method("dbscan").detect(base, {"eps": 100, "min_samples": 10}, district, None)
    two = get_method("dbscan").detect(doubled, {"eps": 100, "min_samples": 20}, district, None)
    assert len(one.hotspots) == len(two.hotspots) >= 1
    assert two.hotspots["incidents"].iloc[0] == 2 * one.hotspots["incidents"].iloc[0]
    # 3 months of data: 500 per km² per month over π·0.1² km² gives ceil(47.1) = 48.
    dense = get_method("dbscan").detect(base, {"eps": 100, "min_density": 500}, district, None)
    assert dense.params["min_samples"] == 48
    assert "min_samples 48" in dense.notes[0]


def test_prospective_weighs_recent_incidents_more(district):
    recent = synthetic(district, seed=4, planted=[((453_700.0, 349_000.0), 60)], background=0)
    recent["occurred"] = "2017-12"
    old = synthetic(district, seed=5, planted=[((449_500.0, 359_000.0), 60)], background=0)
    old["occurred"] = "2017-10"
    both = pd.concat([recent, old], ignore_index=True)
    result = get_method("prospective").detect(both, {}, district, None)
    top = result.hotspots.iloc[0].geometry
    assert top.distance(shapely.Point(453_700, 349_000)) < 1


def test_computed_defaults_are_announced_and_recorded(district, planted):
    result = get_method("kde").detect(planted, {}, district, 0.02)
    assert result.params["cell_size"] == 250
    assert result.params["bandwidth"] == 500
    assert any("Cell size 250 m" in note for note in result.notes)
    assert result.params["method"] == "kde" and result.params["coverage"] == 0.02
    assert result.params["window"] == ("2017-10", "2017-12")
    assert result.params["run_seconds"] >= 0
    assert result.surface is not None and {"x", "y", "value"} <= set(result.surface.columns)


def test_parameters_are_checked_in_words():
    spec = get_method("kde").PARAMS
    with pytest.raises(HotspotsError, match="bandwidth must be at least 25 m"):
        spec.resolve({"bandwidth": 5})
    with pytest.raises(HotspotsError, match="must be a number"):
        spec.resolve({"bandwidth": "wide"})
    with pytest.raises(HotspotsError, match="Unknown parameter 'radius'"):
        spec.resolve({"radius": 5})
    with pytest.raises(HotspotsError, match="confidence must be one of 90, 95, 99"):
        get_method("gistar").PARAMS.resolve({"confidence": "80"})


def test_wrong_crs_is_named(district, planted):
    with pytest.raises(HotspotsError, match="EPSG:27700"):
        get_method("grid").detect(planted.to_crs(4326), {}, district, None)


def test_every_method_has_the_one_interface():
    reference = inspect.signature(get_method("grid").detect)
    for name, module in REGISTRY.items():
        assert name == module.NAME
        assert module.TITLE
        assert inspect.signature(module.detect).parameters.keys() == reference.parameters.keys()
        for param in module.PARAMS:
            assert param.help, f"{name}.{param.name} has no help"
            assert param.choices or (param.minimum is not None and param.maximum is not None)


def test_top_streets_on_fixture(pack):
    """The three most frequent locations inside Hucknall North in the December fixture."""
    from hotspots.methods.base import describe
    from tests.conftest import POLICEUK_FIXTURES

    rows = pd.read_csv(POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv", dtype=str)
    incidents = gpd.GeoDataFrame(
        {"occurred": rows["Month"], "location": rows["Location"]},
        geometry=gpd.points_from_xy(
            rows["Longitude"].astype(float), rows["Latitude"].astype(float)
        ),
        crs="EPSG:4326",
    ).to_crs(27700)
    north = pack.wards.set_index("ward_code").geometry["E05010679"]
    table = describe([north], incidents, StudyArea.from_pack(pack))
    # Quarry Dale 4, Annesley Road 3, then Linby Road and Vaughan Avenue 2 each (alphabetical).
    assert (
        table["top_streets"].iloc[0]
        == "On or near Quarry Dale; On or near Annesley Road; On or near Linby Road"
    )
    assert table["incidents"].iloc[0] == 23
    assert table["wards"].iloc[0].startswith("Hucknall North")
    assert table["areas"].iloc[0] == "Hucknall"
