"""DBSCAN clusters in metres, on merged duplicate points.

police.uk puts many incidents on the same snap point, so identical coordinates are merged into
one weighted point (``sample_weight``): the clustering is the same, with far fewer points. When
there are still more than ``MAX_POINTS`` distinct points, coordinates are snapped to a grid of
eps/10 first (each point moves at most eps/14), which bounds memory at any volume.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN

from hotspots.methods.base import (
    HotspotResult,
    Param,
    ParamSpec,
    StudyArea,
    check_incidents,
    cluster_polygons,
    cluster_result,
    months_in,
    timed,
    weights_of,
    xy,
)

NAME = "dbscan"
TITLE = "DBSCAN clusters"
MAX_POINTS = 200_000
PARAMS = ParamSpec(
    (
        Param(
            "eps",
            150.0,
            10,
            2000,
            "m",
            "Neighbourhood radius: incidents this close are neighbours.",
        ),
        Param(
            "min_samples",
            15,
            2,
            100_000,
            "incidents",
            "Incidents within eps needed to start a cluster.",
            kind=int,
        ),
        Param(
            "min_density",
            None,
            0,
            1e6,
            "per km² per month",
            "If set, min_samples = density × π·eps² × months (volume-proof).",
        ),
    )
)
# Alternatives the back-test tries when recommending settings (besides the defaults).
CANDIDATES = [{}, {"eps": 100, "min_samples": 10}]


def merge_points(x, y, weights, snap: float = 0.0):
    """Unique coordinates (optionally snapped to a grid) with summed weights, and the inverse map."""
    if snap:
        x = (np.floor(x / snap) + 0.5) * snap
        y = (np.floor(y / snap) + 0.5) * snap
    # One complex number per point: hashing it is much faster than sorting rows.
    inverse, unique = pd.factorize(x + 1j * y)
    points = np.column_stack([unique.real, unique.imag])
    return points, np.bincount(inverse, weights=weights, minlength=len(points)), inverse


def detect(incidents, params, boundary: StudyArea, coverage=None) -> HotspotResult:
    """Dense clusters of incidents, drawn as buffered concave hulls."""
    check_incidents(incidents)
    values = PARAMS.resolve(params)
    notes = []
    if values["min_density"] is not None:
        months = months_in(incidents)
        area_km2 = np.pi * (values["eps"] / 1000) ** 2
        values["min_samples"] = max(2, int(np.ceil(values["min_density"] * area_km2 * months)))
        notes.append(
            f"min_samples {values['min_samples']} from {values['min_density']:g} per km² per month over {months} month(s)."
        )
    finish = timed(NAME, values, incidents)
    x, y = xy(incidents)
    weights = weights_of(incidents)
    points, point_weights, inverse = merge_points(x, y, weights)
    snap = values["eps"] / 10
    while len(points) > MAX_POINTS and snap <= values["eps"] / 3:
        points, point_weights, inverse = merge_points(x, y, weights, snap)
        snap *= 1.5
    if len(points) < len(x) and snap > values["eps"] / 10:
        notes.append(
            f"{len(x):,} incidents snapped to a {snap / 1.5:g} m grid ({len(points):,} points) to bound memory."
        )
    labels = np.full(len(x), -1)
    point_labels = np.full(len(points), -1)
    if len(points):
        model = DBSCAN(eps=values["eps"], min_samples=values["min_samples"], algorithm="ball_tree")
        point_labels = model.fit_predict(points, sample_weight=point_weights)
        labels = point_labels[inverse]
    polygons = cluster_polygons(
        points[:, 0],
        points[:, 1],
        point_labels if len(points) else labels,
        values["eps"] / 2,
        boundary,
    )
    return cluster_result(NAME, finish, polygons, incidents, boundary, coverage, notes)
