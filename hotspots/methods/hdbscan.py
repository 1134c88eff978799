"""HDBSCAN clusters: DBSCAN over every density at once, keeping the most persistent clusters.

Uses the ``hdbscan`` package rather than scikit-learn's ``HDBSCAN``: for two-dimensional points
the package builds the minimum spanning tree with a Borůvka KD-tree, O(n log n), while
scikit-learn's port uses Prim's algorithm, which is far slower beyond tens of thousands of
points. Neither takes sample weights, so duplicated snap points are clustered as they are.
"""

from __future__ import annotations

import hdbscan as hdbscan_package
import numpy as np

from hotspots.methods.base import (
    HotspotResult,
    Param,
    ParamSpec,
    StudyArea,
    check_incidents,
    cluster_polygons,
    cluster_result,
    timed,
    xy,
)

NAME = "hdbscan"
TITLE = "HDBSCAN clusters"
PARAMS = ParamSpec(
    (
        Param(
            "min_cluster_size",
            30,
            2,
            100_000,
            "incidents",
            "Smallest group of incidents called a cluster.",
            kind=int,
        ),
        Param(
            "min_samples",
            None,
            1,
            100_000,
            "incidents",
            "How conservative: more leaves more points as noise (default: min_cluster_size).",
            kind=int,
        ),
        Param(
            "core_probability",
            0.3,
            0.0,
            1.0,
            "",
            "Only incidents at least this strongly in their cluster shape its outline.",
        ),
        Param("buffer", 75.0, 0, 1000, "m", "Buffer drawn around each cluster's outline."),
    )
)
# Alternatives the back-test tries when recommending settings (besides the defaults).
CANDIDATES = [{}, {"min_cluster_size": 15}]


def detect(incidents, params, boundary: StudyArea, coverage=None) -> HotspotResult:
    """Persistent dense clusters, drawn as buffered concave hulls."""
    check_incidents(incidents)
    values = PARAMS.resolve(params)
    finish = timed(NAME, values, incidents)
    x, y = xy(incidents)
    outline = np.full(len(x), -1)
    if len(x) > values["min_cluster_size"]:
        model = hdbscan_package.HDBSCAN(
            min_cluster_size=values["min_cluster_size"],
            min_samples=values["min_samples"],
            algorithm="boruvka_kdtree",
            core_dist_n_jobs=1,
        ).fit(np.column_stack([x, y]))
        # Loosely attached members would stretch the outline across the town; leave them out.
        outline = np.where(model.probabilities_ >= values["core_probability"], model.labels_, -1)
    polygons = cluster_polygons(x, y, outline, values["buffer"], boundary)
    return cluster_result(NAME, finish, polygons, incidents, boundary, coverage, [])
