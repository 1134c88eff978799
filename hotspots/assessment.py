"""The strategic assessment: a period against the one before, the tables a CSP report is built from.

* **Crime table**: per category the current and previous counts, the volume and % change and
  the analyst's target (``Reduce`` or ``Monitor``), then a total-crime row that leaves ASB out
  and an ASB row.
* **Shares and rates**: each neighbourhood area's share of crime and of ASB, and the rates per
  1,000 residents by area and by ward (population: the pack year nearest the period).
* **Monthly trend** for ASB, violence and total crime, with months that hold no data at all
  given as missing (``None``), never as zero, and a warning when either period is incomplete.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import pandas as pd

from hotspots.boundaries import BoundaryPack
from hotspots.errors import HotspotsError
from hotspots.ingest.categories import CategoryGroups
from hotspots.periods import Period, add_months, latest_full_window, parse_period, shift
from hotspots.store import Store

TARGETS = ("Reduce", "Monitor")
TOTAL_CRIME = "Total recorded crime (excluding ASB)"
ASB_ROW = "Anti-social behaviour"


@dataclass
class Assessment:
    current: Period
    previous: Period
    crime: pd.DataFrame
    areas: pd.DataFrame
    wards: pd.DataFrame
    monthly: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "crime": self.crime,
            "areas": self.areas,
            "wards": self.wards,
            "monthly": self.monthly,
        }

    def csv(self, table: str) -> str:
        if table not in self.tables():
            raise HotspotsError(f"There is no table '{table}'. Tables: {', '.join(self.tables())}.")
        return self.tables()[table].to_csv(index=False, lineterminator="\n")

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in self.tables():
                archive.writestr(f"{name}.csv", self.csv(name))
        return buffer.getvalue()


def _change(current: int, previous: int) -> tuple[int, float | None]:
    pct = None if previous == 0 else round((current - previous) / previous * 100, 2)
    return current - previous, pct


def _row(label: str, current: int, previous: int, target: str | None) -> dict:
    volume, pct = _change(current, previous)
    return {
        "category": label,
        "current": current,
        "previous": previous,
        "change": volume,
        "pct_change": pct,
        "target": target,
    }


def assessment_period(months_with_data: list[str], start: str = "", end: str = "") -> Period | None:
    """The year an assessment covers: from ``start`` (12 months unless ``end`` is given), else
    the latest 12 consecutive months with data; None when there are no such 12 months."""
    if start:
        first = parse_period(start).start
        return parse_period(start, end or add_months(first, 11).strftime("%Y-%m"))
    return latest_full_window(months_with_data, 12)


def strategic_assessment(
    store: Store,
    pack: BoundaryPack,
    groups: CategoryGroups,
    period: Period,
    targets: dict[str, str] | None = None,
) -> Assessment:
    """The assessment tables for ``period`` against the period of the same length before it."""
    targets = {**store.report_targets(), **(targets or {})}
    previous = shift(period, -1)
    categories = store.categories()
    asb = set(groups.categories_in("asb", categories))
    violence = set(groups.categories_in("violence", categories))
    crime_categories = [c for c in categories if c not in asb]
    now = store.counts_by("category", period)
    before = store.counts_by("category", previous)

    rows = [
        _row(c, int(now.get(c, 0)), int(before.get(c, 0)), targets.get(c, "Monitor"))
        for c in sorted(crime_categories, key=lambda c: (-int(now.get(c, 0)), c))
        if now.get(c, 0) or before.get(c, 0)
    ]
    total_now = int(sum(now.get(c, 0) for c in crime_categories))
    total_before = int(sum(before.get(c, 0) for c in crime_categories))
    rows.append(_row(TOTAL_CRIME, total_now, total_before, targets.get(TOTAL_CRIME, "Monitor")))
    rows.append(
        _row(
            ASB_ROW,
            int(sum(now.get(c, 0) for c in asb)),
            int(sum(before.get(c, 0) for c in asb)),
            targets.get(ASB_ROW, "Monitor"),
        )
    )
    crime = pd.DataFrame(rows)

    population = pack.ward_population(period.mid_year)
    crime_by_ward = store.counts_by("ward_code", period, crime_categories)
    asb_by_ward = store.counts_by("ward_code", period, sorted(asb))
    wards = pack.wards[["ward_code", "ward_name", "area"]].copy()
    wards["crime"] = wards["ward_code"].map(crime_by_ward).fillna(0).astype(int)
    wards["asb"] = wards["ward_code"].map(asb_by_ward).fillna(0).astype(int)
    wards["population"] = wards["ward_code"].map(population).astype(int)
    wards["crime_rate_per_1000"] = (wards["crime"] / wards["population"] * 1000).round(2)
    wards["asb_rate_per_1000"] = (wards["asb"] / wards["population"] * 1000).round(2)

    areas = wards.groupby("area", sort=False)[["crime", "asb", "population"]].sum()
    areas = areas.reindex([a.name for a in pack.areas]).reset_index()
    areas["crime_share_pct"] = (areas["crime"] / max(areas["crime"].sum(), 1) * 100).round(1)
    areas["asb_share_pct"] = (areas["asb"] / max(areas["asb"].sum(), 1) * 100).round(1)
    areas["crime_rate_per_1000"] = (areas["crime"] / areas["population"] * 1000).round(2)
    areas["asb_rate_per_1000"] = (areas["asb"] / areas["population"] * 1000).round(2)
    areas = areas[
        [
            "area",
            "crime",
            "crime_share_pct",
            "asb",
            "asb_share_pct",
            "population",
            "crime_rate_per_1000",
            "asb_rate_per_1000",
        ]
    ]

    have = set(store.months())
    by_month = store.conn.execute(
        "SELECT month, category, incidents FROM month_counts WHERE month >= ? AND month < ?",
        (previous.start.strftime("%Y-%m"), period.end.strftime("%Y-%m")),
    ).fetchall()
    counts = pd.DataFrame(by_month, columns=["month", "category", "incidents"])
    monthly_rows = []
    for month in previous.months + period.months:
        these = counts[counts["month"] == month]
        if month not in have:
            monthly_rows.append(
                {"month": month, "asb": None, "violence": None, "total_crime": None}
            )
            continue
        monthly_rows.append(
            {
                "month": month,
                "asb": int(these[these["category"].isin(asb)]["incidents"].sum()),
                "violence": int(these[these["category"].isin(violence)]["incidents"].sum()),
                "total_crime": int(these[~these["category"].isin(asb)]["incidents"].sum()),
            }
        )
    monthly = pd.DataFrame(monthly_rows).astype(
        {"asb": "Int64", "violence": "Int64", "total_crime": "Int64"}
    )

    warnings = []
    for name, span in (("current", period), ("previous", previous)):
        missing = [m for m in span.months if m not in have]
        if missing:
            warnings.append(
                f"The {name} period ({span.label}) has no data for {len(missing)} month(s): "
                f"{', '.join(missing)}. Its counts are incomplete and changes are not like for like."
            )
    return Assessment(period, previous, crime, areas, wards, monthly, warnings)
