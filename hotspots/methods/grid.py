"""Counts on a regular square grid in metres: the simplest hotspot map, and the baseline."""

from __future__ import annotations

from hotspots.methods.base import (
    CELL_SIZE,
    Grid,
    HotspotResult,
    Param,
    ParamSpec,
    StudyArea,
    above_mean,
    check_incidents,
    resolve_cell_params,
    surface_result,
    timed,
    weights_of,
    xy,
)

NAME = "grid"
TITLE = "Grid counts"
PARAMS = ParamSpec(
    (
        CELL_SIZE,
        Param(
            "threshold_k",
            5.0,
            1.0,
            50.0,
            "× mean",
            "Without a coverage, cells with at least k × the mean cell count are hot.",
        ),
    )
)
# Alternatives the back-test tries when recommending settings (besides the defaults).
CANDIDATES = [{}, {"cell_size": 150}]


def detect(incidents, params, boundary: StudyArea, coverage=None) -> HotspotResult:
    """Hot cells by incident count; contiguous hot cells form one hotspot."""
    check_incidents(incidents)
    values, notes = resolve_cell_params(PARAMS, params, boundary)
    finish = timed(NAME, values, incidents)
    grid = Grid.covering(boundary.geometry, values["cell_size"])
    mask = grid.inside(boundary.geometry)
    x, y = xy(incidents)
    counts = grid.counts(x, y, weights_of(incidents))
    native = above_mean(counts, mask, values["threshold_k"])
    return surface_result(
        NAME, finish, grid, counts, mask, incidents, boundary, coverage, native, notes
    )
