"""Getis-Ord Gi* on grid counts with a fixed distance band, FDR-corrected.

Vectorised with FFT convolutions over the grid (binary weights, the focal cell included);
tests check the z-scores against esda's ``G_Local(star=True)``. p-values are two-sided from the
normal distribution, or one-sided pseudo p-values from random permutations of the cell counts
across the study area; either way Benjamini-Hochberg controls the false discovery rate.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.signal import fftconvolve

from hotspots.methods.base import (
    CELL_SIZE,
    Grid,
    HotspotResult,
    Param,
    ParamSpec,
    StudyArea,
    check_incidents,
    resolve_cell_params,
    surface_result,
    timed,
    weights_of,
    xy,
)

NAME = "gistar"
TITLE = "Getis-Ord Gi* (FDR)"
PARAMS = ParamSpec(
    (
        CELL_SIZE,
        Param(
            "distance_band",
            None,
            25,
            5000,
            "m",
            "Cells within this distance are neighbours (default: 2 × cell size).",
        ),
        Param(
            "confidence",
            "95",
            unit="%",
            help="Hot cells are significant at this confidence after FDR.",
            kind=str,
            choices=("90", "95", "99"),
        ),
        Param(
            "permutations",
            0,
            0,
            9999,
            "",
            "0 for analytical p-values, else random permutations (e.g. 999).",
            kind=int,
        ),
        Param(
            "seed",
            0,
            0,
            2**31 - 1,
            "",
            "Random seed for permutations, so results repeat.",
            kind=int,
        ),
    )
)
# Alternatives the back-test tries when recommending settings (besides the defaults).
CANDIDATES = [{}, {"cell_size": 150, "distance_band": 300}]


def band_kernel(distance: float, cell: float) -> np.ndarray:
    half = int(np.floor(distance / cell))
    offsets = np.arange(-half, half + 1) * cell
    dx, dy = np.meshgrid(offsets, offsets)
    return (np.hypot(dx, dy) <= distance + 1e-9).astype(float)


def _convolve(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.rint(fftconvolve(values, kernel, mode="same") * 1e6) / 1e6  # counts: drop FFT noise


def gi_star(counts: np.ndarray, mask: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Gi* z-scores for the cells in ``mask`` (NaN elsewhere)."""
    x = np.where(mask, counts, 0.0)
    n = mask.sum()
    mean = x[mask].mean()
    sd = np.sqrt((x[mask] ** 2).mean() - mean**2)
    w_sum = _convolve(mask.astype(float), kernel)  # neighbours inside the study area
    local = _convolve(x, kernel)
    denominator = sd * np.sqrt(np.clip(n * w_sum - w_sum**2, 0, None) / (n - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (local - mean * w_sum) / denominator
    return np.where(mask & (denominator > 0), z, np.nan)


def detect(incidents, params, boundary: StudyArea, coverage=None) -> HotspotResult:
    """Cells significantly hotter than the study area (Gi*), contiguous cells joined."""
    check_incidents(incidents)
    values, notes = resolve_cell_params(PARAMS, params, boundary)
    if values["distance_band"] is None:
        values["distance_band"] = 2 * values["cell_size"]
        notes.append(f"Distance band {values['distance_band']:g} m (2 × cell size).")
    finish = timed(NAME, values, incidents)
    grid = Grid.covering(boundary.geometry, values["cell_size"])
    mask = grid.inside(boundary.geometry)
    x, y = xy(incidents)
    counts = grid.counts(x, y, weights_of(incidents))
    kernel = band_kernel(values["distance_band"], grid.cell)
    z = gi_star(counts, mask, kernel)
    valid = mask & np.isfinite(z)

    if values["permutations"]:
        rng = np.random.default_rng(values["seed"])
        observed = z[valid]
        exceed = np.zeros(observed.shape)
        shuffled = counts.copy()
        pool = counts[valid]
        for _ in range(values["permutations"]):
            shuffled[valid] = rng.permutation(pool)
            exceed += gi_star(shuffled, valid, kernel)[valid] >= observed
        p = (exceed + 1) / (values["permutations"] + 1)
        needed = int(np.ceil(valid.sum() / (1 - int(values["confidence"]) / 100) - 1))
        if values["permutations"] < needed / 10:
            notes.append(
                f"With {values['permutations']} permutations the smallest p-value is "
                f"1/{values['permutations'] + 1}; across {int(valid.sum())} cells few or none can pass "
                "FDR. Use more permutations, a smaller area or analytical p-values."
            )
    else:
        p = 2 * stats.norm.sf(np.abs(z[valid]))
    q = np.ones_like(z)
    q[valid] = stats.false_discovery_control(p, method="bh") if len(p) else p
    alpha = 1 - int(values["confidence"]) / 100
    native = valid & (z > 0) & (q <= alpha)
    score = np.where(valid & (z > 0), z, 0.0)
    result = surface_result(
        NAME, finish, grid, score, mask, incidents, boundary, coverage, native, notes
    )
    hot = int(native.sum())
    result.notes.append(
        f"{hot} cell(s) hot at {values['confidence']}% confidence after FDR correction."
    )
    return result
