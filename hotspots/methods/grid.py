"""Counts on a regular square grid in metres: the simplest hotspot map, and the baseline."""

from __future__ import annotations

from hotspots.methods.base import (
    Grid,
    HotspotResult,
    Param,
    ParamSpec,
    StudyArea,
    check_incidents,
    default_cell_size,
    surface_result,
    timed,
    weights_of,
    xy,
)

NAME = "grid"
TITLE = "Grid counts"
PARAMS = ParamSpec(
    (
        Param(
            "cell_size",
            None,
            25,
            2000,
            "m",
            "Side of each square cell (default: shorter side of the area ÷ 50, to 25 m).",
        ),
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
    values = PARAMS.resolve(params)
    notes = []
    if values["cell_size"] is None:
        values["cell_size"] = default_cell_size(boundary)
        notes.append(
            f"Cell size {values['cell_size']:g} m (shorter side of {boundary.name} ÷ 50, rounded to 25 m)."
        )
    finish = timed(NAME, values, incidents)
    grid = Grid.covering(boundary.geometry, values["cell_size"])
    mask = grid.inside(boundary.geometry)
    x, y = xy(incidents)
    counts = grid.counts(x, y, weights_of(incidents))
    mean = counts[mask].mean() if mask.any() else 0.0
    native = counts >= max(values["threshold_k"] * mean, 1e-12)
    return surface_result(
        NAME, finish, grid, counts, mask, incidents, boundary, coverage, native, notes
    )
