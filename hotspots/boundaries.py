"""Boundary packs: a district's wards, LSOAs, neighbourhood areas and populations.

A pack is a folder with a ``pack.toml`` manifest (see ``boundaries/ashfield/pack.toml``).
Everything is returned in EPSG:27700 (British National Grid, metres).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.errors import PackError

BNG = "EPSG:27700"


@dataclass(frozen=True)
class Area:
    """A neighbourhood area: a named group of wards with a short code."""

    name: str
    code: str
    ward_codes: tuple[str, ...]


class BoundaryPack:
    """A district's boundaries and populations, loaded from a pack folder.

    Attributes
    ----------
    wards : GeoDataFrame
        One row per ward, columns ``ward_code``, ``ward_name``, ``area``, geometry (EPSG:27700).
    lsoas : GeoDataFrame
        One row per LSOA, columns ``lsoa_code``, ``lsoa_name``, geometry (EPSG:27700).
    areas : list[Area]
    population : DataFrame
        Long table ``ward_code, year, population``.
    """

    def __init__(self, folder: Path, manifest: dict, wards, lsoas, areas, population):
        self.folder = folder
        self.manifest = manifest
        self.name: str = manifest["pack"]["name"]
        self.code: str = manifest["pack"].get("code", "")
        self.short: str = manifest["pack"].get("short", "")
        self.wards: gpd.GeoDataFrame = wards
        self.lsoas: gpd.GeoDataFrame = lsoas
        self.areas: list[Area] = areas
        self.population: pd.DataFrame = population

    # -- lookups -----------------------------------------------------------------------
    @cached_property
    def ward_names(self) -> dict[str, str]:
        return dict(zip(self.wards["ward_code"], self.wards["ward_name"], strict=True))

    @cached_property
    def ward_area(self) -> dict[str, str]:
        return dict(zip(self.wards["ward_code"], self.wards["area"], strict=True))

    @cached_property
    def district(self) -> shapely.Geometry:
        """The district outline: the union of its wards."""
        return shapely.union_all(self.wards.geometry.values)

    @cached_property
    def district_area_m2(self) -> float:
        return float(self.district.area)

    def area_named(self, name: str) -> Area:
        """The neighbourhood area with this name or code (case-insensitive)."""
        wanted = name.strip().casefold()
        for area in self.areas:
            if wanted in (area.name.casefold(), area.code.casefold()):
                return area
        known = ", ".join(a.name for a in self.areas)
        raise PackError(f"There is no neighbourhood area called '{name}'. Known areas: {known}.")

    @cached_property
    def ward_lsoa_overlap(self) -> pd.DataFrame:
        """Area in m² shared by each ward and LSOA (wards as rows, LSOAs as columns)."""
        tree = shapely.STRtree(self.lsoas.geometry.values)
        w_idx, l_idx = tree.query(self.wards.geometry.values, predicate="intersects")
        shared = shapely.area(
            shapely.intersection(
                self.wards.geometry.values[w_idx], self.lsoas.geometry.values[l_idx]
            )
        )
        matrix = np.zeros((len(self.wards), len(self.lsoas)))
        matrix[w_idx, l_idx] = shared
        return pd.DataFrame(matrix, index=self.wards["ward_code"], columns=self.lsoas["lsoa_code"])

    def population_year(self, year: int) -> int:
        """The pack's population year nearest to ``year`` (the earlier one on a tie)."""
        years = sorted(self.population["year"].unique())
        return int(min(years, key=lambda y: (abs(y - year), y)))

    def ward_population(self, year: int) -> pd.Series:
        """Resident population per ward code for the pack year nearest to ``year``."""
        chosen = self.population_year(year)
        rows = self.population[self.population["year"] == chosen]
        return rows.set_index("ward_code")["population"]


def _read_layer(folder: Path, spec: dict, what: str, code_col: str, name_col: str):
    path = folder / spec["file"]
    if not path.exists():
        raise PackError(
            f"The boundary pack at {folder} lists {what} file '{spec['file']}', which is missing."
        )
    frame = gpd.read_file(path)
    for key in ("code_field", "name_field"):
        if spec[key] not in frame.columns:
            raise PackError(
                f"{path.name} has no field '{spec[key]}' (named as {key} in pack.toml)."
            )
    if frame.crs is None:
        frame = frame.set_crs(spec.get("crs", "EPSG:4326"))
    frame = frame.rename(columns={spec["code_field"]: code_col, spec["name_field"]: name_col})
    frame = frame[[code_col, name_col, "geometry"]].to_crs(BNG)
    frame[code_col] = frame[code_col].astype(str)
    # Generalised boundaries sometimes carry tiny invalid rings; repair once here.
    frame["geometry"] = shapely.make_valid(frame.geometry.values)
    return frame.sort_values(code_col).reset_index(drop=True)


def _read_population(folder: Path, spec: dict) -> tuple[pd.DataFrame, dict[str, str]]:
    path = folder / spec["file"]
    if not path.exists():
        raise PackError(
            f"The boundary pack at {folder} lists population file '{spec['file']}', which is missing."
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    code_field, area_field = spec["code_field"], spec["area_field"]
    long_rows = []
    for year, column in spec["years"].items():
        if column not in table.columns:
            raise PackError(f"{path.name} has no column '{column}' for population year {year}.")
        long_rows.append(
            pd.DataFrame(
                {
                    "ward_code": table[code_field],
                    "year": int(year),
                    "population": pd.to_numeric(table[column]).astype(int),
                }
            )
        )
    ward_area = dict(zip(table[code_field], table[area_field], strict=True))
    return pd.concat(long_rows, ignore_index=True), ward_area


@lru_cache(maxsize=8)
def load_pack(folder: str | Path) -> BoundaryPack:
    """Load the boundary pack in ``folder`` (a directory holding ``pack.toml``)."""
    folder = Path(folder)
    manifest_path = folder / "pack.toml"
    if not manifest_path.exists():
        raise PackError(f"No boundary pack at {folder}: pack.toml is missing.")
    try:
        manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"{manifest_path} is not valid TOML: {exc}") from exc

    wards = _read_layer(folder, manifest["wards"], "ward", "ward_code", "ward_name")
    lsoas = _read_layer(folder, manifest["lsoas"], "LSOA", "lsoa_code", "lsoa_name")
    population, ward_area = _read_population(folder, manifest["population"])

    missing = sorted(set(wards["ward_code"]) - set(ward_area))
    if missing:
        raise PackError(f"These wards have no area in the population file: {', '.join(missing)}.")
    wards["area"] = wards["ward_code"].map(ward_area)

    areas = []
    for entry in manifest.get("areas", []):
        codes = tuple(wards.loc[wards["area"] == entry["name"], "ward_code"])
        if not codes:
            raise PackError(
                f"Area '{entry['name']}' in pack.toml has no wards in the population file."
            )
        areas.append(Area(name=entry["name"], code=entry["code"], ward_codes=codes))
    unlisted = sorted(set(wards["area"]) - {a.name for a in areas})
    if unlisted:
        raise PackError(f"pack.toml does not list these areas: {', '.join(unlisted)}.")
    return BoundaryPack(folder, manifest, wards, lsoas, areas, population)
