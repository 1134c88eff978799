"""Postcode centroids: normalise postcodes and look up their British National Grid position.

Reads, by content rather than by name:

* the bundled Code-Point Open extract (header ``Postcode,...,Eastings,Northings,...``);
* a full Ordnance Survey Code-Point Open download: headerless CSVs (postcode, quality, easting,
  northing, ...), as one file, a folder of them or the zip as downloaded;
* the ONS Postcode Directory (ONSPD), whose header has ``pcds``/``pcd`` and
  ``oseast1m``/``osnrth1m``.
"""

from __future__ import annotations

import io
import re
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.errors import HotspotsError

_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


def normalise(postcodes: pd.Series) -> pd.Series:
    """Upper-case and re-space postcodes: ``"ng17 7gw"`` and ``"NG177GW"`` become ``"NG17 7GW"``.

    Strings that are not shaped like a UK postcode become empty strings.
    """
    packed = postcodes.fillna("").astype(str).str.upper().str.replace(r"\s+", "", regex=True)
    valid = packed.str.match(_POSTCODE.pattern)
    spaced = packed.str[:-3] + " " + packed.str[-3:]
    return spaced.where(valid, "")


def _frame_from_csv(raw: bytes, name: str) -> pd.DataFrame:
    text = raw.decode("utf-8-sig", errors="replace")
    first = text.split("\n", 1)[0].lower()
    if "oseast1m" in first and ("pcds" in first or "pcd" in first):
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        code = "pcds" if "pcds" in table.columns else "pcd"
        return pd.DataFrame(
            {"postcode": table[code], "easting": table["oseast1m"], "northing": table["osnrth1m"]}
        )
    if "postcode" in first and "eastings" in first:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        columns = {c.lower(): c for c in table.columns}
        return pd.DataFrame(
            {
                "postcode": table[columns["postcode"]],
                "easting": table[columns["eastings"]],
                "northing": table[columns["northings"]],
            }
        )
    # Code-Point Open as published: no header, postcode/quality/easting/northing first.
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, header=None)
    if table.shape[1] < 4:
        raise HotspotsError(f"{name} does not look like a Code-Point Open or ONSPD postcode file.")
    return pd.DataFrame({"postcode": table[0], "easting": table[2], "northing": table[3]})


def _csv_payloads(path: Path):
    if path.is_dir():
        for child in sorted(path.rglob("*.csv")):
            yield child.name, child.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.lower().endswith(".csv") and not info.is_dir():
                    yield info.filename, archive.read(info)
    else:
        yield path.name, path.read_bytes()


class PostcodeTable:
    """Postcode → easting/northing (EPSG:27700)."""

    def __init__(self, table: pd.DataFrame, source: str):
        self.source = source
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    @classmethod
    def load(cls, path: str | Path) -> PostcodeTable:
        path = Path(path)
        if not path.exists():
            raise HotspotsError(f"The postcode file {path} does not exist.")
        frames = [_frame_from_csv(raw, name) for name, raw in _csv_payloads(path)]
        if not frames:
            raise HotspotsError(f"{path} holds no postcode CSV files.")
        table = pd.concat(frames, ignore_index=True)
        table["postcode"] = normalise(table["postcode"])
        table["easting"] = pd.to_numeric(table["easting"], errors="coerce")
        table["northing"] = pd.to_numeric(table["northing"], errors="coerce")
        table = table[(table["postcode"] != "") & table["easting"].gt(0) & table["northing"].gt(0)]
        table = table.drop_duplicates("postcode").set_index("postcode")
        return cls(table[["easting", "northing"]], str(path))

    def lookup(self, postcodes: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Easting, northing and a found-mask for each (raw) postcode."""
        keys = normalise(postcodes)
        position = self._table.index.get_indexer(keys)
        found = position >= 0
        east = np.full(len(keys), np.nan)
        north = np.full(len(keys), np.nan)
        east[found] = self._table["easting"].to_numpy()[position[found]]
        north[found] = self._table["northing"].to_numpy()[position[found]]
        return east, north, found


@lru_cache(maxsize=4)
def load_postcodes(path: str) -> PostcodeTable:
    """The postcode table at ``path``, loaded once per process."""
    return PostcodeTable.load(path)
