"""How well a hotspot map predicted what came next: PAI, PEI, RRI and hit rate, back-tested.

Definitions (for one map made from a training window and scored on the following test window):

* **hit rate** = n / N: the share of test-window incidents inside the hotspots.
* **PAI** (Chainey et al. 2008) = (n / N) / (a / A): hit rate per share of the area covered.
* **PEI** (after Hunt 2016) = n / n*, where n* is the most test incidents any choice of the
  same area could have captured, taking the busiest cells of a fine reference grid first (the
  last one in part); equivalently PAI / PAI*. The reference grid is the same for every method
  (``PEI_CELL_M``, 50 m, about a street segment), so a coarse map is not excused for being
  coarse and methods compare fairly. Outlines finer than the grid can score slightly above 1.
* **RRI**, the recapture rate index (Levine 2008) = (n_test / n_train) / (N_test / N_train):
  above 1 means the hotspots kept more than their share of incidents from one window to the
  next. Undefined (NaN) when the hotspots held nothing in the training window.

The back-test uses rolling origins: train on ``train`` consecutive periods, test on the next
``test``, step forward by ``test``, over every window whose months all hold data. Periods are
months for police.uk (month-only) data and ISO weeks when most incidents carry a day.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.boundaries import BoundaryPack
from hotspots.errors import HotspotsError
from hotspots.ingest.categories import CategoryGroups
from hotspots.methods import REGISTRY, StudyArea, get_method
from hotspots.methods.base import DEFAULT_COVERAGE, Grid, xy
from hotspots.periods import Period, add_months
from hotspots.reports import group_categories
from hotspots.store import Store

PEI_CELL_M = 50.0


@dataclass(frozen=True)
class Scores:
    hit_rate: float
    pai: float
    pei: float
    rri: float
    captured: int
    total: int
    area_share: float


def _captured(union: shapely.Geometry, points: gpd.GeoDataFrame) -> int:
    if union.is_empty or not len(points):
        return 0
    shapely.prepare(union)
    x, y = xy(points)
    return int(shapely.contains_xy(union, x, y).sum())


def best_possible(
    test: gpd.GeoDataFrame, area_m2: float, boundary: StudyArea, cell: float
) -> float:
    """n*: the most test incidents an area of ``area_m2`` could hold, busiest grid cells first."""
    grid = Grid.covering(boundary.geometry, cell)
    mask = grid.inside(boundary.geometry)
    x, y = xy(test)
    counts = np.sort(grid.counts(x, y)[mask])[::-1]
    cells = area_m2 / cell**2
    whole = int(np.floor(cells))
    n_star = counts[:whole].sum()
    if whole < len(counts):
        n_star += (cells - whole) * counts[whole]
    return float(n_star)


def score(
    hotspots: gpd.GeoDataFrame,
    train: gpd.GeoDataFrame,
    test: gpd.GeoDataFrame,
    boundary: StudyArea,
    cell: float | None = None,
) -> Scores:
    """Score one map (made from ``train``) against the ``test`` incidents."""
    union = shapely.intersection(shapely.union_all(hotspots.geometry.values), boundary.geometry)
    area = float(union.area)
    share = area / boundary.area_m2
    total = len(test)
    n = _captured(union, test)
    hit_rate = n / total if total else float("nan")
    pai = hit_rate / share if share > 0 and total else float("nan")
    n_star = best_possible(test, area, boundary, cell or PEI_CELL_M) if total else 0.0
    pei = n / n_star if n_star > 0 else float("nan")
    n_train = _captured(union, train)
    rri = (n / n_train) / (total / len(train)) if n_train and total and len(train) else float("nan")
    return Scores(hit_rate, pai, pei, rri, n, total, share)


# -- rolling-origin back-test ---------------------------------------------------------------------
def periods_unit(store: Store, categories: list[str] | None = None) -> str:
    """``week`` when most incidents carry a day, else ``month`` (police.uk)."""
    precision = store.counts_by("precision", categories=categories)
    dated = precision.get("day", 0) + precision.get("minute", 0)
    return "week" if precision.sum() and dated > precision.sum() / 2 else "month"


def folds(
    months_with_data: list[str], train: int, test: int, unit: str = "month"
) -> list[tuple[Period, Period]]:
    """(training period, test period) pairs stepping through the data; none spans a gap."""
    have = set(months_with_data)
    if not have:
        return []
    first = pd.Timestamp(min(have) + "-01").date()
    last_end = add_months(pd.Timestamp(max(have) + "-01").date(), 1)
    out = []
    if unit == "month":
        start = first
        while add_months(start, train + test) <= last_end:
            train_period = Period(start, add_months(start, train))
            test_period = Period(add_months(start, train), add_months(start, train + test))
            if all(m in have for m in train_period.months + test_period.months):
                out.append((train_period, test_period))
            start = add_months(start, test)
        return out
    week = pd.Timedelta(days=7)
    start = pd.Timestamp(first)
    start = start + pd.Timedelta(days=(7 - start.weekday()) % 7)  # first Monday
    while (start + (train + test) * week).date() <= last_end:
        split = start + train * week
        train_period = Period(start.date(), split.date())
        test_period = Period(split.date(), (split + test * week).date())
        if all(m in have for m in train_period.months + test_period.months):
            out.append((train_period, test_period))
        start = start + test * week
    return out


@dataclass(frozen=True)
class Config:
    """A method with parameters: one row of a comparison."""

    method: str
    params: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, method: str, params: dict | None = None) -> Config:
        get_method(method)
        return cls(method, tuple(sorted((params or {}).items())))

    @property
    def label(self) -> str:
        if not self.params:
            return self.method
        return self.method + " (" + ", ".join(f"{k}={v}" for k, v in self.params) + ")"


def backtest(
    store: Store,
    pack: BoundaryPack,
    groups: CategoryGroups,
    group: str,
    configs: list[Config],
    train: int = 3,
    test: int = 1,
    coverage: float | None = DEFAULT_COVERAGE,
    area: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    last: int | None = None,
) -> pd.DataFrame:
    """Scores per configuration and fold: one row each (only the ``last`` folds if given)."""
    categories = group_categories(store, groups, group)
    boundary = StudyArea.from_pack(pack, area)
    wards = None if area is None else list(boundary.wards["ward_code"])
    unit = periods_unit(store, categories)
    windows = folds(store.months(), train, test, unit)
    if last:
        windows = windows[-last:]
    if not windows:
        raise HotspotsError(
            f"Not enough consecutive data for a back-test: {train} {unit}(s) to train and {test} to test."
        )
    rows = []
    total = len(windows) * len(configs)
    done = 0
    columns = ["occurred", "location"]
    for train_period, test_period in windows:
        train_incidents = store.incidents(train_period, categories, wards, columns=columns)
        test_incidents = store.incidents(test_period, categories, wards, columns=columns)
        for config in configs:
            result = get_method(config.method).detect(
                train_incidents, dict(config.params), boundary, coverage
            )
            s = score(result.hotspots, train_incidents, test_incidents, boundary, PEI_CELL_M)
            rows.append(
                {
                    "config": config.label,
                    "method": config.method,
                    "params": json.dumps(dict(config.params)),
                    "train": train_period.label,
                    "test": test_period.label,
                    "hit_rate": s.hit_rate,
                    "pai": s.pai,
                    "pei": s.pei,
                    "rri": s.rri,
                    "captured": s.captured,
                    "test_incidents": s.total,
                    "area_share": s.area_share,
                    "hotspots": len(result.hotspots),
                }
            )
            done += 1
            if progress:
                progress(f"back-testing {config.label}", done, total)
    return pd.DataFrame(rows)


def mean_scores(folds_table: pd.DataFrame) -> pd.DataFrame:
    """Mean scores per configuration over the folds, best mean PEI first."""
    metrics = ["pai", "pei", "rri", "hit_rate", "area_share"]
    table = folds_table.groupby(["config", "method", "params"], sort=False)[metrics].mean()
    table["folds"] = folds_table.groupby(["config", "method", "params"], sort=False).size()
    return (
        table.reset_index()
        .sort_values("pei", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def candidate_configs(methods: list[str] | None = None) -> list[Config]:
    """Each method's default plus the few alternatives its module lists in ``CANDIDATES``."""
    configs = []
    for name in methods or list(REGISTRY):
        module = get_method(name)
        for params in getattr(module, "CANDIDATES", [{}]):
            configs.append(Config.of(name, params))
    return configs


@dataclass(frozen=True)
class Recommendation:
    group: str
    method: str
    params: dict
    mean_pei: float
    mean_pai: float
    folds: int

    @property
    def label(self) -> str:
        return Config.of(self.method, self.params).label

    @property
    def sentence(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items()) or "defaults"
        return (
            f"Recommended for {self.group}: {self.method} ({shown}), the best mean PEI "
            f"({self.mean_pei:.2f}; PAI {self.mean_pai:.1f}) over {self.folds} back-test folds."
        )


def recommend(means: pd.DataFrame, group: str) -> Recommendation:
    """The configuration with the best mean PEI in a back-test's mean table."""
    ranked = means.dropna(subset=["pei"])
    if ranked.empty:
        raise HotspotsError(f"No configuration could be scored for {group}.")
    best = ranked.iloc[0]
    return Recommendation(
        group,
        best["method"],
        json.loads(best["params"]),
        float(best["pei"]),
        float(best["pai"]),
        int(best["folds"]),
    )


def save_recommendation(store: Store, best: Recommendation, coverage: float) -> None:
    """Keep a group's recommendation in the store, for the maps and tasking to default to."""
    store.save_recommendation(
        best.group,
        {
            "method": best.method,
            "params": best.params,
            "mean_pei": best.mean_pei,
            "mean_pai": best.mean_pai,
            "folds": best.folds,
            "coverage": coverage,
        },
    )


def saved_recommendation(store: Store, group: str) -> Recommendation | None:
    """The recommendation last saved for ``group``, if any."""
    record = store.recommendation(group)
    if record is None:
        return None
    return Recommendation(
        group,
        record["method"],
        record["params"],
        record["mean_pei"],
        record["mean_pai"],
        record["folds"],
    )
