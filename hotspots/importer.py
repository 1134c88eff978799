"""Import incident files: read, validate, geocode and store, one transaction per file."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.boundaries import BoundaryPack
from hotspots.errors import InputFileError, MappingError
from hotspots.geocode import lsoa_agreement, place
from hotspots.ingest import parse
from hotspots.ingest.mapping import POLICE_UK, ColumnMapping, is_police_uk_header
from hotspots.ingest.postcodes import PostcodeTable
from hotspots.ingest.sources import Skipped, SourceFile, discover, read_table
from hotspots.store import ImportRecord, Store

# progress(stage, done, total) — stage is a short phrase such as "reading 2017-01.csv".
Progress = Callable[[str, int, int], None]


@dataclass
class Prepared:
    """One file's rows, split into incidents ready to store and rejects with reasons."""

    incidents: dict[str, np.ndarray]  # store.INCIDENT_COLUMNS
    rejects: dict[str, np.ndarray]  # store.REJECT_COLUMNS
    placement: dict
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        reasons, counts = np.unique(self.rejects["reason"].astype(str), return_counts=True)
        pairs = sorted(zip(reasons, counts, strict=True), key=lambda rc: -rc[1])
        return {str(r): int(c) for r, c in pairs}


def prepare(
    table: pd.DataFrame,
    mapping: ColumnMapping,
    pack: BoundaryPack,
    postcodes: PostcodeTable | None = None,
    tolerance_m: float = 25.0,
    today: dt.date | None = None,
) -> Prepared:
    """Validate, key and geocode a table of strings; no storage."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    cols = mapping.columns
    n = len(table)
    dates = parse.parse_dates(
        table[mapping.date_column], today, table[cols["time"]] if "time" in cols else None
    )
    category = table[cols["category"]].str.strip().to_numpy(dtype=object)
    locations = parse.parse_locations(table, mapping, postcodes)
    keys = parse.record_keys(table, mapping)

    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)

    def reject(mask: np.ndarray, why: str, details) -> None:
        mask = mask & (reason == "")
        reason[mask] = why
        detail[mask] = details[mask] if isinstance(details, np.ndarray) else details

    date_text = table[mapping.date_column].str.strip()
    date_detail = ("date '" + date_text + "': " + pd.Series(dates.problem, dtype=object)).to_numpy(
        dtype=object
    )
    reject(dates.problem != "", parse.BAD_DATE, date_detail)
    reject(category == "", parse.MISSING_CATEGORY, "no category")
    located = locations.reason == ""
    unlocated = ~located & (reason == "")
    reason[unlocated] = locations.reason[unlocated]
    detail[unlocated] = locations.detail[unlocated]

    valid = reason == ""
    duplicated = np.zeros(n, dtype=bool)
    duplicated[valid] = pd.Series(keys[valid]).duplicated().to_numpy()
    reject(duplicated, parse.DUPLICATE, "repeats an earlier row of this file")
    timings["parse"] = time.perf_counter() - started

    started = time.perf_counter()
    valid = np.flatnonzero(reason == "")
    source_lsoa = table[cols["lsoa"]].str.strip().to_numpy(dtype=object) if "lsoa" in cols else None
    placement = place(
        locations.x[valid],
        locations.y[valid],
        pack,
        source_lsoa[valid] if source_lsoa is not None else None,
        tolerance_m,
    )
    outside = valid[~placement.inside]
    reason[outside] = parse.OUTSIDE_DISTRICT
    detail[outside] = f"more than {tolerance_m:g} m from every ward of {pack.name}"
    rules = placement.rule_counts()
    rules.pop("outside", None)
    keep = valid[placement.inside]
    agreeing, comparable = (0, 0)
    if source_lsoa is not None:
        agreeing, comparable = lsoa_agreement(
            pack, placement.ward_code[placement.inside], source_lsoa[keep]
        )
    timings["geocode"] = time.perf_counter() - started

    def text_column(name: str) -> np.ndarray:
        """Trimmed text of a mapped column for the kept rows; None where blank or unmapped."""
        if name not in cols:
            return np.full(len(keep), None, dtype=object)
        values = table[cols[name]].str.strip().to_numpy(dtype=object)[keep]
        values[values == ""] = None
        return values

    inside = placement.inside
    incidents = {
        "key": keys[keep],
        "row_number": keep + 2,
        "record_id": text_column("id"),
        "occurred": dates.occurred[keep],
        "category": category[keep],
        "location": text_column("location"),
        "outcome": text_column("outcome"),
        "source_lsoa": text_column("lsoa"),
        "easting": locations.x[keep],
        "northing": locations.y[keep],
        "ward_code": placement.ward_code[inside],
        "lsoa_code": placement.lsoa_code[inside],
    }
    rejected = np.flatnonzero(reason != "")
    rejects = {
        "row_number": rejected + 2,
        "reason": reason[rejected],
        "detail": detail[rejected],
        "raw": np.array(parse.raw_lines(table, rejected), dtype=object),
    }
    placement_summary = {
        "rules": rules,
        "lsoa_agreeing": agreeing,
        "lsoa_comparable": comparable,
        "tolerance_m": tolerance_m,
    }
    return Prepared(incidents, rejects, placement_summary, timings)


@dataclass
class FileReport:
    """What happened to one file."""

    name: str
    kind: str
    rows_read: int
    imported: int
    already_stored: int
    rejected_by_reason: dict[str, int]
    placement: dict
    encoding: str
    seconds: float
    import_id: int | None

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def counts(self) -> str:
        """'N imported, N already stored, N rejected', as progress lines and the audit log say it."""
        return (
            f"{self.imported:,} imported, {self.already_stored:,} already stored, "
            f"{self.rejected:,} rejected"
        )


@dataclass
class ImportReport:
    files: list[FileReport]
    skipped: list

    def total(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files)

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for reason, count in f.rejected_by_reason.items():
                out[reason] = out.get(reason, 0) + count
        return out

    @property
    def boundary_settled(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for rule, count in f.placement.get("rules", {}).items():
                out[rule] = out.get(rule, 0) + count
        return out

    @property
    def lsoa_agreement(self) -> float | None:
        comparable = sum(f.placement.get("lsoa_comparable", 0) for f in self.files)
        agreeing = sum(f.placement.get("lsoa_agreeing", 0) for f in self.files)
        return agreeing / comparable if comparable else None


def import_source(
    store: Store,
    source: SourceFile,
    pack: BoundaryPack,
    mapping: ColumnMapping | None = None,
    postcodes: PostcodeTable | None = None,
    tolerance_m: float = 25.0,
    progress: Progress | None = None,
    today: dt.date | None = None,
    imported_by: str | None = None,
) -> FileReport:
    """Import one file in one transaction; raises InputFileError/MappingError for unusable files."""
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    short = Path(source.name.split("!")[-1]).name
    if progress:
        progress(f"reading {short}", 0, 1)
    raw = source.read()
    sha256 = hashlib.sha256(raw).hexdigest()
    table, encoding = read_table(raw, source.name)
    header = list(table.columns)
    if table.empty:
        raise InputFileError(f"{source.name} has a header but no rows of data.")
    police_columns = set(POLICE_UK.columns.values())
    missing = sorted(police_columns - set(header))
    if mapping is None and missing and len(police_columns & set(header)) >= len(police_columns) - 2:
        raise InputFileError(
            f"{source.name} looks like a police.uk street file but lacks the column(s) {', '.join(missing)}."
        )
    if is_police_uk_header(header):
        chosen, kind = POLICE_UK, "police.uk street"
    elif mapping is not None:
        chosen, kind = mapping, "local export"
    else:
        raise MappingError(
            f"{source.name} is not a police.uk street-level file. To import a local export, say which "
            "columns hold what with --mapping FILE or --map field=Column (e.g. --map date=Reported)."
        )
    chosen.check_header(header, source.name)
    if progress:
        progress(f"checking {short}", 0, 1)
    prepared = prepare(table, chosen, pack, postcodes, tolerance_m, today)

    record = ImportRecord(
        file_name=source.name,
        sha256=sha256,
        kind=kind,
        source=chosen.source,
        rows_read=len(table),
        rejected_by_reason=prepared.rejected_by_reason,
        placement=prepared.placement,
        started_at=started_at,
        imported_by=imported_by,
    )

    def on_chunk(done: int, total: int) -> None:
        if progress:
            progress(f"storing {short}", done, total)

    store.write_import(record, prepared.incidents, prepared.rejects, on_chunk)
    seconds = time.perf_counter() - started
    store.set_import_seconds(record.id, seconds)
    return FileReport(
        name=source.name,
        kind=kind,
        rows_read=len(table),
        imported=record.imported,
        already_stored=record.already_stored,
        rejected_by_reason=record.rejected_by_reason,
        placement=record.placement,
        encoding=encoding,
        seconds=seconds,
        import_id=record.id,
    )


def import_paths(
    store: Store,
    paths: list[str | Path],
    pack: BoundaryPack,
    mapping: ColumnMapping | None = None,
    postcodes: PostcodeTable | None = None,
    tolerance_m: float = 25.0,
    progress: Progress | None = None,
    on_file: Callable[[FileReport], None] | None = None,
    today: dt.date | None = None,
    imported_by: str | None = None,
) -> ImportReport:
    """Import every incident file found under ``paths``, each file in its own transaction."""
    sources, skipped = discover(paths)
    if not sources:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped[:3])
        where = ", ".join(map(str, paths))
        raise InputFileError(
            f"Nothing could be imported from {where}: no CSV files to import were found."
            + (f" Skipped {reasons}." if reasons else "")
        )
    reports = []
    n_found_skipped = len(skipped)
    for source in sources:
        try:
            report = import_source(
                store, source, pack, mapping, postcodes, tolerance_m, progress, today, imported_by
            )
        except (InputFileError, MappingError) as exc:
            if source.explicit:
                if reports:
                    done = ", ".join(Path(r.name).name for r in reports)
                    raise type(exc)(f"{exc} (Already imported before this file: {done}.)") from exc
                raise
            skipped.append(Skipped(source.name, str(exc)))
            continue
        reports.append(report)
        if on_file:
            on_file(report)
    if not reports:
        # Files that were tried say more than files that were never CSV.
        tried = skipped[n_found_skipped:] + skipped[:n_found_skipped]
        reasons = "; ".join(f"{Path(s.name).name}: {s.reason}" for s in tried[:3])
        raise InputFileError(
            f"Nothing could be imported from {', '.join(map(str, paths))}. {reasons}"
        )
    return ImportReport(reports, skipped)
