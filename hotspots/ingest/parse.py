"""Turn a raw table of strings into normalised incident records and rejects.

Each row ends up either as a record or as a reject with one reason, never both and never
neither. Reasons, checked in this order (the first that applies is the one recorded):

``bad date``, ``missing category``, ``no coordinates``, ``invalid coordinates``,
``unknown postcode``, ``duplicate``; ``outside district`` is decided later, by the geocoder.

Idempotency keys
----------------
Every record gets a key; the store ignores a key it already holds, so re-importing a file, or
an overlapping one (a month inside a force-wide file, the same month loose and zipped), adds
nothing.

* Records with a unique id (local exports): ``source:id``. A second row with the same id in one
  file is a ``duplicate``.
* police.uk rows with a Crime ID: ``police.uk:<Crime ID>:<fingerprint>``, where the fingerprint
  hashes month, coordinates, location, LSOA and crime type. police.uk reuses a handful of Crime
  IDs within a month for records at different places; those are kept as separate incidents. A
  row repeating an earlier one in every fingerprinted field is a ``duplicate``. The outcome is
  left out of the fingerprint because police.uk updates it in later downloads of the same month.
* Rows without an id (police.uk ASB): ``source:~<fingerprint>:<n>``, where ``n`` counts earlier
  rows with the same fingerprint in the file. Genuine repeats (same month, point and type) are
  kept, and a re-import produces the same keys, so adds nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.geocode import lonlat_to_bng, valid_bng, valid_lonlat
from hotspots.ingest.mapping import ColumnMapping
from hotspots.ingest.postcodes import PostcodeTable

BAD_DATE = "bad date"
MISSING_CATEGORY = "missing category"
NO_COORDINATES = "no coordinates"
INVALID_COORDINATES = "invalid coordinates"
UNKNOWN_POSTCODE = "unknown postcode"
DUPLICATE = "duplicate"
OUTSIDE_DISTRICT = "outside district"
REASONS = (
    NO_COORDINATES,
    INVALID_COORDINATES,
    OUTSIDE_DISTRICT,
    UNKNOWN_POSTCODE,
    BAD_DATE,
    MISSING_CATEGORY,
    DUPLICATE,
)

EARLIEST_YEAR = 2000

_ISO = (
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::\d{2}(?:\.\d+)?)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)
_UK = r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::\d{2})?)?$"
_TIME = r"^(?P<H>\d{1,2}):(?P<M>\d{2})(?::\d{2})?$"


@dataclass
class ParsedDates:
    occurred: np.ndarray  # "YYYY-MM", "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM"
    first_day: np.ndarray  # "YYYY-MM-DD", the first day the occurrence could be
    month: np.ndarray  # "YYYY-MM"
    precision: np.ndarray  # "month" | "day" | "minute"
    problem: np.ndarray  # "" where fine, else why the date was rejected


def _parse_unique_dates(texts: pd.Series, today: dt.date) -> pd.DataFrame:
    """Parse distinct date strings (there are few, even in a million rows)."""
    texts = texts.str.strip()
    parts = texts.str.extract(_ISO)
    uk = texts.str.extract(_UK)
    parts = parts.fillna(uk[["y", "m", "d", "H", "M"]])
    numbers = parts.apply(pd.to_numeric, errors="coerce")
    precision = np.where(
        numbers["d"].isna(), "month", np.where(numbers["H"].isna(), "day", "minute")
    )
    stamp = pd.to_datetime(
        pd.DataFrame(
            {
                "year": numbers["y"],
                "month": numbers["m"],
                "day": numbers["d"].fillna(1),
                "hour": numbers["H"].fillna(0),
                "minute": numbers["M"].fillna(0),
            }
        ),
        errors="coerce",
    )
    problem = np.full(len(texts), "", dtype=object)
    problem[stamp.isna().to_numpy()] = "not a date this system reads"
    problem[(texts == "").to_numpy()] = "no date"
    ok = stamp.notna().to_numpy()
    years = numbers["y"].to_numpy()
    problem[ok & (years < EARLIEST_YEAR)] = f"before {EARLIEST_YEAR}"
    first_day = stamp.dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value="")
    month = stamp.dt.strftime("%Y-%m").to_numpy(dtype=object, na_value="")
    minute = stamp.dt.strftime("%Y-%m-%dT%H:%M").to_numpy(dtype=object, na_value="")
    # A month-precision date is in the future only if its whole month is.
    latest_ok = np.where(precision == "month", today.strftime("%Y-%m"), today.isoformat())
    compare = np.where(precision == "month", month, first_day)
    problem[ok & (compare > latest_ok) & (problem == "")] = "in the future"
    occurred = np.where(
        precision == "month", month, np.where(precision == "day", first_day, minute)
    )
    return pd.DataFrame(
        {
            "occurred": occurred,
            "first_day": first_day,
            "month": month,
            "precision": precision,
            "problem": problem,
        }
    )


def parse_dates(
    texts: pd.Series, today: dt.date | None = None, times: pd.Series | None = None
) -> ParsedDates:
    """Parse dates as ISO 8601 (``2017-01``, ``2017-01-31``, ``2017-01-31T22:15``) or UK
    (``31/01/2017``, ``31/01/2017 22:15``), keeping the precision given.

    ``times`` (optional) holds ``HH:MM`` for files that keep the time in its own column.
    """
    today = today or dt.date.today()
    texts = texts.fillna("").astype(str)
    if times is not None:
        clock = times.fillna("").astype(str).str.strip()
        has_clock = clock.str.match(_TIME) & ~texts.str.contains(":", regex=False)
        texts = texts.where(~has_clock, texts.str.strip() + " " + clock)
    codes, uniques = pd.factorize(texts, use_na_sentinel=False)
    table = _parse_unique_dates(pd.Series(uniques, dtype=object).astype(str), today)
    return ParsedDates(
        occurred=table["occurred"].to_numpy()[codes],
        first_day=table["first_day"].to_numpy()[codes],
        month=table["month"].to_numpy()[codes],
        precision=table["precision"].to_numpy()[codes],
        problem=table["problem"].to_numpy()[codes],
    )


@dataclass
class ParsedLocations:
    x: np.ndarray  # easting, NaN where unplaced
    y: np.ndarray
    reason: np.ndarray  # "" where placed
    detail: np.ndarray


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, blank-mask and unreadable-mask of a text column of numbers."""
    text = pc.utf8_trim_whitespace(_text(column))
    blank = pc.equal(text, "").to_numpy(zero_copy_only=False)
    try:  # Arrow's parser is fast; it refuses the whole column if one value is not a number.
        values = pc.cast(pc.if_else(blank, None, text), pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        values = pd.to_numeric(
            pd.Series(text.to_numpy(zero_copy_only=False)), errors="coerce"
        ).to_numpy(dtype=float)
    unreadable = np.isnan(values) & ~blank
    return values, blank, unreadable


def parse_locations(
    table: pd.DataFrame, mapping: ColumnMapping, postcodes: PostcodeTable | None
) -> ParsedLocations:
    """Place every row in EPSG:27700 from whichever location columns the mapping names."""
    n = len(table)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    reason = np.full(n, NO_COORDINATES, dtype=object)
    detail = np.full(n, "no location in any mapped column", dtype=object)
    pending = np.ones(n, dtype=bool)
    cols = mapping.columns

    for kind in mapping.location_kinds:
        if kind == "latlon":
            lat, lat_blank, lat_bad = _numbers(table[cols["lat"]])
            lon, lon_blank, lon_bad = _numbers(table[cols["lon"]])
            blank = lat_blank | lon_blank
            bad = ~blank & (lat_bad | lon_bad | ~valid_lonlat(lon, lat))
            good = pending & ~blank & ~bad
            if good.any():
                x[good], y[good] = lonlat_to_bng(lon[good], lat[good])
            describe = "latitude/longitude are not numbers in Great Britain"
        elif kind == "bng":
            east, e_blank, e_bad = _numbers(table[cols["easting"]])
            north, n_blank, n_bad = _numbers(table[cols["northing"]])
            blank = e_blank | n_blank
            bad = ~blank & (e_bad | n_bad | ~valid_bng(east, north))
            good = pending & ~blank & ~bad
            x[good], y[good] = east[good], north[good]
            describe = "easting/northing are not British National Grid metres"
        else:
            raw = table[cols["postcode"]].fillna("").astype(str)
            blank = (raw.str.strip() == "").to_numpy()
            if postcodes is None:
                east = north = np.full(n, np.nan)
                found = np.zeros(n, dtype=bool)
            else:
                east, north, found = postcodes.lookup(raw)
            bad = ~blank & ~found
            good = pending & ~blank & found
            x[good], y[good] = east[good], north[good]
            describe = "postcode not in the postcode table"
            # An unknown postcode is its own reason, unless an earlier kind already failed.
            newly_bad = pending & bad & (reason == NO_COORDINATES)
            reason[newly_bad] = UNKNOWN_POSTCODE
            detail[newly_bad] = (
                "postcode " + raw[newly_bad].str.strip() + " is not in the postcode table"
            )
            reason[good] = ""
            detail[good] = ""
            pending &= ~good
            continue
        newly_bad = pending & bad & (reason == NO_COORDINATES)
        reason[newly_bad] = INVALID_COORDINATES
        detail[newly_bad] = describe
        reason[good] = ""
        detail[good] = ""
        pending &= ~good

    return ParsedLocations(x=x, y=y, reason=reason, detail=detail)


def _text(column: pd.Series) -> pa.Array:
    """A column as an Arrow string array without nulls (zero-copy for Arrow-backed columns)."""
    return pc.fill_null(pa.array(column, type=pa.string(), from_pandas=True), "")


def record_keys(table: pd.DataFrame, mapping: ColumnMapping) -> np.ndarray:
    """The idempotency key of every row: a 128-bit BLAKE2b digest (see the module docstring).

    The digested text is, with ``␞`` (U+001E) between parts and ``␟`` (U+001F) between the
    content fields (every mapped field but id and outcome, in mapping order):

    * unique ids: ``source␞id``;
    * police.uk rows with a Crime ID: ``source␞id␞content``;
    * rows without an id: ``source␞␞content␞n``, ``n`` counting that content's rows so far.

    Changing this changes every key, and re-imports would then double count: it is pinned by
    a test.
    """
    cols = mapping.columns
    n = len(table)
    ids = (
        pc.utf8_trim_whitespace(_text(table[cols["id"]]))
        if "id" in cols
        else pa.nulls(n, pa.string())
    )
    ids = pc.fill_null(ids, "")
    content_fields = [c for f, c in cols.items() if f not in ("id", "outcome")]
    content = pc.binary_join_element_wise(*[_text(table[c]) for c in content_fields], "\x1f")
    has_id = pc.not_equal(ids, "")
    source = pa.scalar(mapping.source.replace("\x1e", " "))
    empty = pa.scalar("")

    with_content = pc.binary_join_element_wise(source, ids, content, "\x1e")
    if mapping.id_unique:
        base = pc.if_else(has_id, pc.binary_join_element_wise(source, ids, "\x1e"), with_content)
    else:
        base = with_content
    # The n-th repeat of the same content among rows without an id.
    no_id_mask = pc.invert(has_id)
    no_id = np.flatnonzero(no_id_mask.to_numpy(zero_copy_only=False))
    suffix = np.full(n, "", dtype=object)
    if len(no_id):
        codes, _ = pd.factorize(pd.Series(pc.filter(content, no_id_mask), dtype="str"))
        occurrence = pd.Series(codes).groupby(codes).cumcount().to_numpy() + 1
        suffix[no_id] = np.char.add("\x1e", occurrence.astype(str)).astype(object)
    texts = pc.binary_join_element_wise(base, pa.array(suffix, type=pa.string()), empty)
    blake2b = hashlib.blake2b
    encoded = pc.cast(texts, pa.binary()).to_numpy(zero_copy_only=False)
    return np.array([blake2b(t, digest_size=16).digest() for t in encoded], dtype=object)


def raw_lines(table: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """The original fields of the given rows, written back as CSV lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    subset = table.iloc[rows]
    lines = []
    for values in subset.itertuples(index=False, name=None):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        lines.append(buffer.getvalue().rstrip("\n"))
    return lines
