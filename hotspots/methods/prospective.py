"""Prospective (recency-weighted) hotspots, after Bowers, Johnson & Pease (2004).

Risk in each cell is the sum over recent incidents of a space weight (falling with distance,
within a bandwidth in metres) times a time weight (falling with age). "Now" is the end of the
data window; month-only dates count from the middle of their month, day dates from midday.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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

NAME = "prospective"
TITLE = "Prospective (recency-weighted)"
PARAMS = ParamSpec(
    (
        CELL_SIZE,
        Param("bandwidth", 400.0, 25, 5000, "m", "Incidents further than this add no risk."),
        Param(
            "space_kernel",
            "quartic",
            help="quartic, or inverse: 1/(1 + distance in cells).",
            kind=str,
            choices=("quartic", "inverse"),
        ),
        Param(
            "decay",
            "half-life",
            help="half-life, or inverse-weeks: 1/(1 + weeks ago).",
            kind=str,
            choices=("half-life", "inverse-weeks"),
        ),
        Param(
            "half_life_days",
            30.0,
            1,
            365,
            "days",
            "With half-life decay: age at which an incident counts half.",
        ),
        Param("window_days", 92.0, 7, 730, "days", "Incidents older than this add no risk."),
        Param(
            "threshold_k",
            3.0,
            1.0,
            50.0,
            "× mean",
            "Without a coverage, cells with risk ≥ k × the mean are hot.",
        ),
    )
)
# Alternatives the back-test tries when recommending settings (besides the defaults).
CANDIDATES = [{}, {"bandwidth": 250}, {"decay": "inverse-weeks"}]


def incident_times(occurred: pd.Series) -> np.ndarray:
    """A representative moment for each ISO ``occurred`` text, as datetime64[s]."""
    text = occurred.astype(str)
    month_only = text.str.len() == 7
    day_only = text.str.len() == 10
    stamp = pd.to_datetime(
        text.where(~month_only, text + "-15").where(~day_only, text + "T12:00"), format="ISO8601"
    )
    return stamp.to_numpy(dtype="datetime64[s]")


def window_end(occurred: pd.Series) -> np.datetime64:
    """The end of the data window: the end of the latest month, day or minute recorded."""
    latest = occurred.astype(str).max()
    if len(latest) == 7:
        end = pd.Timestamp(latest + "-01") + pd.offsets.MonthBegin(1)
    elif len(latest) == 10:
        end = pd.Timestamp(latest) + pd.Timedelta(days=1)
    else:
        end = pd.Timestamp(latest) + pd.Timedelta(minutes=1)
    return np.datetime64(end.to_datetime64(), "s")


def recency_weights(occurred: pd.Series, values: dict) -> np.ndarray:
    ages = (window_end(occurred) - incident_times(occurred)) / np.timedelta64(1, "D")
    if values["decay"] == "half-life":
        weight = 0.5 ** (ages / values["half_life_days"])
    else:
        weight = 1 / (1 + ages / 7)
    return np.where(ages <= values["window_days"], weight, 0.0)


def detect(incidents, params, boundary: StudyArea, coverage=None) -> HotspotResult:
    """Where recent incidents nearby make the next ones most likely."""
    check_incidents(incidents)
    values, notes = resolve_cell_params(PARAMS, params, boundary)
    finish = timed(NAME, values, incidents)
    grid = Grid.covering(boundary.geometry, values["cell_size"], margin=values["bandwidth"])
    mask = grid.inside(boundary.geometry)
    x, y = xy(incidents)
    weights = weights_of(incidents)
    if len(incidents):
        weights = weights * recency_weights(incidents["occurred"], values)
    counts = grid.counts(x, y, weights)
    if values["space_kernel"] == "quartic":
        kernel = disk_kernel(values["bandwidth"], grid.cell, quartic)
    else:
        kernel = disk_kernel(
            values["bandwidth"], grid.cell, lambda u: 1 / (1 + u * values["bandwidth"] / grid.cell)
        )
    risk = convolve_counts(counts, kernel)
    native = above_mean(risk, mask, values["threshold_k"])
    return surface_result(
        NAME, finish, grid, risk, mask, incidents, boundary, coverage, native, notes
    )
