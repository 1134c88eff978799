"""Quartic kernel density in metres (the UK crime-mapping standard surface).

Incidents are binned at the cell size, then convolved (FFT) with a quartic kernel sampled at
the same spacing and normalised to sum to one, so the surface is incidents per km².
"""

from __future__ import annotations

import numpy as np

from hotspots.methods.base import (
    CELL_SIZE,
    Grid,
    HotspotResult,
    Param,
    ParamSpec,
    StudyArea,
    above_mean,
    check_incidents,
    convolve_counts,
    disk_kernel,
    quartic,
    resolve_cell_params,
    surface_result,
    timed,
    weights_of,
    xy,
)

NAME = "kde"
TITLE = "Kernel density (quartic)"
PARAMS = ParamSpec(
    (
        CELL_SIZE,
        Param(
            "bandwidth",
            None,
            25,
            5000,
            "m",
            "Kernel radius (default: 2 × cell size, so a hotspot spans a few cells).",
        ),
        Param(
            "threshold_k",
            3.0,
            1.0,
            50.0,
            "× mean",
            "Without a coverage, cells with density ≥ k × the mean are hot.",
        ),
    )
)
# Alternatives the back-test tries when recommending settings (besides the defaults).
CANDIDATES = [{}, {"bandwidth": 300}, {"cell_size": 150, "bandwidth": 300}]


def density(x, y, weights, grid: Grid, bandwidth: float) -> np.ndarray:
    """Quartic kernel density on ``grid``, in incidents per km²."""
    counts = grid.counts(x, y, weights)
    kernel = disk_kernel(bandwidth, grid.cell, quartic)
    kernel = kernel / kernel.sum()
    return convolve_counts(counts, kernel) / (grid.cell**2) * 1e6


def detect(incidents, params, boundary: StudyArea, coverage=None) -> HotspotResult:
    """Hot cells of a quartic density surface; contiguous hot cells form one hotspot."""
    check_incidents(incidents)
    values, notes = resolve_cell_params(PARAMS, params, boundary)
    if values["bandwidth"] is None:
        values["bandwidth"] = 2 * values["cell_size"]
        notes.append(f"Bandwidth {values['bandwidth']:g} m (2 × cell size).")
    finish = timed(NAME, values, incidents)
    grid = Grid.covering(boundary.geometry, values["cell_size"], margin=values["bandwidth"])
    mask = grid.inside(boundary.geometry)
    x, y = xy(incidents)
    surface = density(x, y, weights_of(incidents), grid, values["bandwidth"])
    native = above_mean(surface, mask, values["threshold_k"])
    return surface_result(
        NAME, finish, grid, surface, mask, incidents, boundary, coverage, native, notes
    )
