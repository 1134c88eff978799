"""The analyst's workbench: one configuration's map and back-test scores, and comparisons.

Pure analysis (no web framework): the analyst page calls these through small JSON endpoints.
"""

from __future__ import annotations

import time

from hotspots.boundaries import BoundaryPack
from hotspots.dashboard import MapQuery, map_view, to_wgs84_geojson
from hotspots.errors import HotspotsError
from hotspots.evaluate import Config, backtest, mean_scores
from hotspots.ingest.categories import CategoryGroups
from hotspots.methods import REGISTRY
from hotspots.store import Store

SCORE_FOLDS = 6  # the most recent back-test windows shown beside the preview


def parameter_forms() -> dict[str, list[dict]]:
    """Every method's parameters as form fields: name, default, bounds, unit, help, choices."""
    forms = {}
    for name, module in REGISTRY.items():
        forms[name] = [
            {
                "name": p.name,
                "default": p.default,
                "min": p.minimum,
                "max": p.maximum,
                "unit": p.unit,
                "help": p.help,
                "choices": list(p.choices),
                "integer": p.kind is int,
            }
            for p in module.PARAMS
        ]
    return forms


def preview(
    store: Store,
    pack: BoundaryPack,
    groups: CategoryGroups,
    query: MapQuery,
    folds: int = SCORE_FOLDS,
) -> dict:
    """The hotspots for ``query`` and the back-test scores of its method and parameters."""
    started = time.perf_counter()
    view = map_view(store, pack, groups, query)
    config = Config.of(query.method, dict(query.params))
    try:
        per_fold = backtest(
            store,
            pack,
            groups,
            query.group,
            [config],
            coverage=query.coverage,
            area=query.area,
            last=folds,
        )
        means = mean_scores(per_fold).iloc[0]
        scores = {
            "mean": {k: _number(means[k]) for k in ("pai", "pei", "rri", "hit_rate", "area_share")},
            "folds": [
                {
                    "test": row.test,
                    "pai": _number(row.pai),
                    "pei": _number(row.pei),
                    "rri": _number(row.rri),
                    "hit_rate": _number(row.hit_rate),
                }
                for row in per_fold.itertuples()
            ],
        }
    except HotspotsError as exc:
        scores = {"mean": None, "folds": [], "message": str(exc)}
    hotspots = view.hotspots[
        ["rank", "incidents", "share_of_incidents", "top_streets", "wards", "geometry"]
    ]
    return {
        "method": query.method,
        "params": view.result.params,
        "notes": view.notes,
        "hotspots": to_wgs84_geojson(hotspots),
        "scores": scores,
        "seconds": round(time.perf_counter() - started, 3),
    }


def compare(
    store: Store,
    pack: BoundaryPack,
    groups: CategoryGroups,
    queries: list[MapQuery],
    folds: int = SCORE_FOLDS,
) -> list[dict]:
    """Two to four configurations side by side: each one's preview."""
    if not 2 <= len(queries) <= 4:
        raise HotspotsError("Compare takes two to four configurations.")
    return [preview(store, pack, groups, q, folds) for q in queries]


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else round(number, 4)
