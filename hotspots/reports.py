"""Counts and rates for periods: the tables a CSP analyst builds an assessment from."""

from __future__ import annotations

import pandas as pd

from hotspots.boundaries import BoundaryPack
from hotspots.errors import HotspotsError
from hotspots.ingest.categories import ALL, CategoryGroups
from hotspots.periods import Period, parse_period
from hotspots.store import Store

BY_CHOICES = ("ward", "area", "lsoa", "category")


def store_period(store: Store) -> Period:
    """The whole span of months the store holds."""
    months = store.months()
    if not months:
        raise HotspotsError(
            "The store holds no incidents yet. Import some first: hotspots import data/"
        )
    return parse_period(months[0], months[-1])


def group_categories(store: Store, groups: CategoryGroups, group: str | None) -> list[str] | None:
    """The stored categories in ``group``; None means every category."""
    if group is None or group == ALL:
        return None
    known = store.categories()
    chosen = groups.categories_in(group, known)
    if not chosen:
        available = ", ".join(groups.keys_for(known)) or "none"
        raise HotspotsError(
            f"No incidents in the store belong to group '{group}'. Groups in the store: {available}."
        )
    return chosen


def _rate(incidents: pd.Series, population: pd.Series) -> pd.Series:
    return (incidents / population * 1000).round(2)


def summary(
    store: Store,
    pack: BoundaryPack,
    groups: CategoryGroups,
    period: Period | None = None,
    group: str | None = None,
    by: str = "ward",
) -> pd.DataFrame:
    """Incident counts (and rates per 1,000 residents where populations exist) for a period.

    ``by="ward"`` gives ``ward_code, ward_name, area, incidents, population, rate_per_1000`` for
    every ward, including those with no incidents; ``by="area"`` the same per neighbourhood area.
    Populations are the pack's year nearest the middle of the period.
    """
    if by not in BY_CHOICES:
        raise HotspotsError(f"--by must be one of {', '.join(BY_CHOICES)}, not '{by}'.")
    period = period or store_period(store)
    categories = group_categories(store, groups, group)
    population = pack.ward_population(period.mid_year)

    if by == "ward":
        counts = store.counts_by("ward_code", period, categories)
        table = pack.wards[["ward_code", "ward_name", "area"]].copy()
        table["incidents"] = table["ward_code"].map(counts).fillna(0).astype(int)
        table["population"] = table["ward_code"].map(population).astype("Int64")
        table["rate_per_1000"] = _rate(table["incidents"], table["population"].astype(float))
        return table.reset_index(drop=True)
    if by == "area":
        ward_counts = store.counts_by("ward_code", period, categories)
        wards = pack.wards[["ward_code", "area"]].assign(
            population=lambda w: w["ward_code"].map(population),
            incidents=lambda w: w["ward_code"].map(ward_counts).fillna(0),
        )
        counts = wards.groupby("area")["incidents"].sum()
        area_population = wards.groupby("area")["population"].sum()
        table = pd.DataFrame({"area": [a.name for a in pack.areas]})
        table["incidents"] = table["area"].map(counts).fillna(0).astype(int)
        table["population"] = table["area"].map(area_population).astype("Int64")
        table["rate_per_1000"] = _rate(table["incidents"], table["population"].astype(float))
        return table
    if by == "lsoa":
        counts = store.counts_by("lsoa_code", period, categories)
        table = pack.lsoas[["lsoa_code", "lsoa_name"]].copy()
        table["incidents"] = table["lsoa_code"].map(counts).fillna(0).astype(int)
        return table.reset_index(drop=True)
    counts = store.counts_by("category", period, categories)
    table = pd.DataFrame({"category": counts.index, "incidents": counts.to_numpy()})
    table.insert(1, "group", table["category"].map(groups.group_of))
    return table.sort_values(["incidents", "category"], ascending=[False, True]).reset_index(
        drop=True
    )
