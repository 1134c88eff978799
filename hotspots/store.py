"""The incident store: SQLite in WAL mode, one transaction per imported file.

Readers keep working while an import runs (WAL). Every import is recorded with its provenance;
every rejected row is kept with its original text and a reason.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.boundaries import BNG
from hotspots.errors import StoreError
from hotspots.periods import Period

# How long a write waits for another one (e.g. an import running elsewhere) to finish.
LOCK_WAIT_S = 30.0

# Bump whenever _SCHEMA or INDEXES change: an open store re-runs them only when this differs.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS imports (
    id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    imported INTEGER NOT NULL,
    already_stored INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    rejected_by_reason TEXT NOT NULL,
    placement TEXT NOT NULL,
    started_at TEXT NOT NULL,
    seconds REAL NOT NULL,
    imported_by TEXT
);

CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL,         -- 128-bit digest, unique; see hotspots.ingest.parse.record_keys
    import_id INTEGER NOT NULL REFERENCES imports(id),
    row_number INTEGER NOT NULL,
    record_id TEXT,
    occurred TEXT NOT NULL,    -- YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM, as precise as the source
    -- ISO text sorts in time order, so date ranges are ranges of occurred (see _where).
    precision TEXT GENERATED ALWAYS AS (
        CASE length(occurred) WHEN 7 THEN 'month' WHEN 10 THEN 'day' ELSE 'minute' END
    ) VIRTUAL,
    category TEXT NOT NULL,
    location TEXT,
    outcome TEXT,
    source_lsoa TEXT,
    easting REAL NOT NULL,
    northing REAL NOT NULL,
    ward_code TEXT NOT NULL,
    lsoa_code TEXT             -- neighbourhood areas come from the boundary pack's wards
);

-- Incidents per month and category, kept up to date by every import: the cheap answer to
-- "which months have data" and to monthly trends.
CREATE TABLE IF NOT EXISTS month_counts (
    month TEXT NOT NULL,
    category TEXT NOT NULL,
    incidents INTEGER NOT NULL,
    PRIMARY KEY (month, category)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY,
    import_id INTEGER NOT NULL REFERENCES imports(id),
    row_number INTEGER NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rejects_import ON rejects (import_id);

-- Patrol areas as issued in tasking packs, so IDs carry over to the next period.
CREATE TABLE IF NOT EXISTS patrol_areas (
    group_key TEXT NOT NULL,
    area TEXT NOT NULL,
    period TEXT NOT NULL,
    patrol_id TEXT NOT NULL,
    polygon BLOB NOT NULL,     -- WKB, EPSG:27700
    PRIMARY KEY (group_key, area, period, patrol_id)
);

-- Analysts' chosen settings per group; every save is a new version (hotspots.profiles).
CREATE TABLE IF NOT EXISTS profiles (
    id INTEGER PRIMARY KEY,
    group_key TEXT NOT NULL,
    name TEXT NOT NULL,
    method TEXT NOT NULL,
    params TEXT NOT NULL,      -- JSON
    coverage REAL,
    note TEXT NOT NULL,
    saved_by TEXT,
    saved_at TEXT NOT NULL,
    scores TEXT                -- JSON: back-test means when saved
);
CREATE INDEX IF NOT EXISTS profiles_group ON profiles (group_key, id);

-- The analyst's target per strategic-assessment row: Reduce or Monitor.
CREATE TABLE IF NOT EXISTS report_targets (
    category TEXT PRIMARY KEY,
    target TEXT NOT NULL CHECK (target IN ('Reduce', 'Monitor'))
);

-- The back-tested best method and settings per category group (hotspots recommend).
CREATE TABLE IF NOT EXISTS recommendations (
    group_key TEXT PRIMARY KEY,
    details TEXT NOT NULL,     -- JSON: method, params, scores, coverage
    saved_at TEXT NOT NULL
);
"""

# The secondary index serving the map and summary queries. Every such query names a group
# (categories) and a date range; a ward or neighbourhood area (a list of wards) is a filter on
# that range. A district-year of one group is a few thousand rows, so a ward index would cost
# every import more than it could save any query.
INDEXES = {
    "incidents_key": "CREATE UNIQUE INDEX IF NOT EXISTS incidents_key ON incidents (key)",
    "incidents_category_day": (
        "CREATE INDEX IF NOT EXISTS incidents_category_day ON incidents (category, occurred)"
    ),
}
# A file adding at least this many rows, and at least half as many as are stored already,
# is loaded with the secondary indexes dropped and rebuilt: one sort beats a million inserts.
BULK_MIN_ROWS = 20_000

INCIDENT_COLUMNS = (
    "key",
    "row_number",
    "record_id",
    "occurred",
    "category",
    "location",
    "outcome",
    "source_lsoa",
    "easting",
    "northing",
    "ward_code",
    "lsoa_code",
)
REJECT_COLUMNS = ("row_number", "reason", "detail", "raw")

CHUNK_ROWS = 50_000


@dataclass
class ImportRecord:
    """Provenance of one imported file, as written to the ``imports`` table."""

    file_name: str
    sha256: str
    kind: str
    source: str
    rows_read: int
    rejected_by_reason: dict[str, int]
    placement: dict
    started_at: str
    seconds: float = 0.0
    imported: int = 0
    already_stored: int = 0
    imported_by: str | None = None
    id: int | None = None

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())


def open_database(
    path: Path, what: str, set_up: Callable[[sqlite3.Connection], None]
) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` as hotspots uses them: autocommit, usable
    from any thread, waiting up to LOCK_WAIT_S for another writer; ``set_up`` then readies it.
    A file that cannot be opened or created is a StoreError naming ``what``."""
    conn = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=LOCK_WAIT_S
        )
        conn.execute("PRAGMA synchronous=NORMAL")
        set_up(conn)
        return conn
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StoreError(f"Cannot open the {what} at {path}: {exc}.") from exc
    except OSError as exc:
        raise StoreError(f"Cannot create the {what} at {path}: {exc.strerror}.") from exc


def _set_up_store(conn: sqlite3.Connection) -> None:
    # import_id references are written only by write_import, in the same transaction as
    # their import; enforcing them per row would cost ~10% of a bulk import.
    conn.execute("PRAGMA foreign_keys=OFF")
    # A larger page cache keeps index inserts of big imports off the disk (~256 MB cap).
    conn.execute("PRAGMA cache_size=-262144")
    if not _schema_is_current(conn):  # a new store, or one from before a schema change
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        for definition in INDEXES.values():
            conn.execute(definition)
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )


def _schema_is_current(conn: sqlite3.Connection) -> bool:
    """Whether the schema is in place already (checked on every open, so kept cheap)."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table: a new file
        return False
    return row is not None and row[0] == str(SCHEMA_VERSION)


class Store:
    """An open incident store. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.conn = open_database(self.path, "incident store", _set_up_store)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------
    def write_import(
        self,
        record: ImportRecord,
        incidents: Mapping[str, np.ndarray],
        rejects: Mapping[str, np.ndarray],
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> ImportRecord:
        """Store one file's incidents, rejects and provenance in a single transaction.

        ``incidents`` and ``rejects`` map column names (``INCIDENT_COLUMNS``, ``REJECT_COLUMNS``)
        to equal-length arrays. Incidents whose key is already stored are skipped and counted
        as ``already_stored``. ``on_chunk(rows_done, rows_total)`` is called after each chunk;
        if anything raises, nothing from this file remains.
        """
        n_incidents = len(incidents["key"])
        n_rejects = len(rejects["reason"])
        total = n_incidents + n_rejects
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            raise StoreError(
                f"Another import has been writing to the store for over {LOCK_WAIT_S:g} s; "
                "nothing from this file was stored. Import it again when that one has finished."
            ) from exc
        try:
            cur.execute(
                "INSERT INTO imports (file_name, sha256, kind, source, rows_read, imported, already_stored,"
                " rejected, rejected_by_reason, placement, started_at, seconds, imported_by)"
                " VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, 0, ?)",
                (
                    record.file_name,
                    record.sha256,
                    record.kind,
                    record.source,
                    record.rows_read,
                    record.rejected,
                    json.dumps(record.rejected_by_reason),
                    json.dumps(record.placement),
                    record.started_at,
                    record.imported_by,
                ),
            )
            import_id = cur.lastrowid
            last_id = cur.execute("SELECT COALESCE(MAX(id), 0) FROM incidents").fetchone()[0]
            stored = (
                cur.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] if n_incidents else 0
            )
            bulk = n_incidents >= BULK_MIN_ROWS and n_incidents * 2 >= stored
            keep = np.arange(n_incidents)
            if bulk:
                # Without the unique index, keys already stored are filtered out here instead.
                if stored:
                    known = {row[0] for row in cur.execute("SELECT key FROM incidents")}
                    keep = np.flatnonzero([k not in known for k in incidents["key"]])
                for name in INDEXES:
                    cur.execute(f"DROP INDEX IF EXISTS {name}")
            verb = "INSERT" if bulk else "INSERT OR IGNORE"
            placeholders = ", ".join("?" * (len(INCIDENT_COLUMNS) + 1))
            sql = f"{verb} INTO incidents (import_id, {', '.join(INCIDENT_COLUMNS)}) VALUES ({placeholders})"
            done = 0
            for rows in _chunks(incidents, INCIDENT_COLUMNS, keep, import_id):
                cur.executemany(sql, rows)
                done += len(rows)
                if on_chunk:
                    on_chunk(done, total)
            if bulk:
                for definition in INDEXES.values():
                    cur.execute(definition)
            record.imported = cur.execute(
                "SELECT COUNT(*) FROM incidents WHERE id > ?", (last_id,)
            ).fetchone()[0]
            record.already_stored = n_incidents - record.imported
            cur.executemany(
                "INSERT INTO month_counts (month, category, incidents) VALUES (?, ?, ?)"
                " ON CONFLICT (month, category) DO UPDATE SET incidents = incidents + excluded.incidents",
                self._new_month_counts(incidents, record.imported, last_id),
            )
            reject_sql = f"INSERT INTO rejects (import_id, {', '.join(REJECT_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"
            for rows in _chunks(rejects, REJECT_COLUMNS, np.arange(n_rejects), import_id):
                cur.executemany(reject_sql, rows)
                done += len(rows)
                if on_chunk:
                    on_chunk(done, total)
            cur.execute(
                "UPDATE imports SET imported = ?, already_stored = ? WHERE id = ?",
                (record.imported, record.already_stored, import_id),
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        record.id = import_id
        return record

    def _new_month_counts(self, incidents: Mapping[str, np.ndarray], imported: int, last_id: int):
        """(month, category, count) of the rows this import added."""
        if imported == len(incidents["key"]):  # every row was new: count them in memory
            months = pd.Series(incidents["occurred"], dtype=object).str[:7]
            frame = pd.DataFrame(
                {"month": months, "category": pd.Series(incidents["category"], dtype=object)}
            )
            counts = frame.groupby(["month", "category"]).size()
            return [(m, c, int(n)) for (m, c), n in counts.items()]
        return self.conn.execute(
            "SELECT substr(occurred, 1, 7), category, COUNT(*) FROM incidents WHERE id > ? GROUP BY 1, 2",
            (last_id,),
        ).fetchall()

    def set_import_seconds(self, import_id: int, seconds: float) -> None:
        self.conn.execute("UPDATE imports SET seconds = ? WHERE id = ?", (seconds, import_id))

    def save_recommendation(self, group: str, details: dict) -> None:
        self.conn.execute(
            "INSERT INTO recommendations (group_key, details, saved_at) VALUES (?, ?, datetime('now'))"
            " ON CONFLICT (group_key) DO UPDATE SET details = excluded.details, saved_at = excluded.saved_at",
            (group, json.dumps(details)),
        )

    def recommendation(self, group: str) -> dict | None:
        row = self.conn.execute(
            "SELECT details FROM recommendations WHERE group_key = ?", (group,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def save_patrol_areas(
        self, group: str, area: str, period: str, areas: list[tuple[str, bytes]]
    ) -> None:
        """Record the patrol areas issued for a period (replacing any issued before for it)."""
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(
                "DELETE FROM patrol_areas WHERE group_key = ? AND area = ? AND period = ?",
                (group, area, period),
            )
            cur.executemany(
                "INSERT INTO patrol_areas (group_key, area, period, patrol_id, polygon) VALUES (?, ?, ?, ?, ?)",
                [(group, area, period, pid, wkb) for pid, wkb in areas],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def report_targets(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT category, target FROM report_targets").fetchall())

    def set_report_target(self, category: str, target: str) -> None:
        self.conn.execute(
            "INSERT INTO report_targets (category, target) VALUES (?, ?)"
            " ON CONFLICT (category) DO UPDATE SET target = excluded.target",
            (category, target),
        )

    def patrol_areas(self, group: str, area: str, period: str) -> list[tuple[str, bytes]]:
        rows = self.conn.execute(
            "SELECT patrol_id, polygon FROM patrol_areas WHERE group_key = ? AND area = ? AND period = ?"
            " ORDER BY patrol_id",
            (group, area, period),
        )
        return rows.fetchall()

    # -- reading ---------------------------------------------------------------------------
    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]

    def categories(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT category FROM month_counts WHERE incidents > 0 ORDER BY category"
            )
        ]

    def months(self) -> list[str]:
        """Every month that holds at least one incident, oldest first."""
        rows = self.conn.execute(
            "SELECT month FROM month_counts WHERE incidents > 0 GROUP BY month ORDER BY month"
        )
        return [r[0] for r in rows]

    def _where(
        self,
        period: Period | None,
        categories: Iterable[str] | None,
        wards: Iterable[str] | None,
    ) -> tuple[str, list]:
        clauses, args = [], []
        if period is not None:
            clauses.append("occurred >= ? AND occurred < ?")
            args += list(_bounds(period))
        if categories is not None:
            categories = list(categories)
            clauses.append(
                f"category IN ({', '.join('?' * len(categories))})" if categories else "0"
            )
            args += categories
        if wards is not None:
            wards = list(wards)
            clauses.append(f"ward_code IN ({', '.join('?' * len(wards))})" if wards else "0")
            args += wards
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def counts_by(
        self,
        column: str,
        period: Period | None = None,
        categories: Iterable[str] | None = None,
        wards: Iterable[str] | None = None,
    ) -> pd.Series:
        """Incident counts grouped by ward_code, lsoa_code, category, month or precision."""
        expressions = {
            "ward_code": "ward_code",
            "lsoa_code": "lsoa_code",
            "category": "category",
            "month": "substr(occurred, 1, 7)",
            "precision": "precision",
        }
        if column not in expressions:
            raise ValueError(f"cannot group by {column}")
        where, args = self._where(period, categories, wards)
        rows = self.conn.execute(
            f"SELECT {expressions[column]}, COUNT(*) FROM incidents{where} GROUP BY 1", args
        )
        return pd.Series(dict(rows.fetchall()), dtype="int64", name="incidents")

    def incidents(
        self,
        period: Period | None = None,
        categories: Iterable[str] | None = None,
        wards: Iterable[str] | None = None,
        columns: Iterable[str] = (
            "id",
            "occurred",
            "month",
            "precision",
            "category",
            "location",
            "ward_code",
            "lsoa_code",
        ),
    ) -> gpd.GeoDataFrame:
        """Incidents matching the filters, as points in EPSG:27700.

        ``wards`` restricts to those ward codes (a neighbourhood area is its list of wards).
        ``month`` (``YYYY-MM``) and ``precision`` are derived; every other column is stored.
        Incidents known only to the month fall in a period only if it covers the whole month.
        """
        derived = {"month": "substr(occurred, 1, 7) AS month"}
        columns = list(dict.fromkeys([*columns, "easting", "northing"]))
        select = ", ".join(derived.get(c, c) for c in columns)
        where, args = self._where(period, categories, wards)
        frame = pd.read_sql_query(
            f"SELECT {select} FROM incidents{where} ORDER BY id", self.conn, params=args
        )
        geometry = gpd.points_from_xy(frame["easting"], frame["northing"])
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=BNG)

    def imports(self) -> pd.DataFrame:
        frame = pd.read_sql_query("SELECT * FROM imports ORDER BY id", self.conn)
        for column in ("rejected_by_reason", "placement"):
            frame[column] = frame[column].map(json.loads)
        return frame

    def rejects(self, import_id: int | None = None) -> pd.DataFrame:
        sql = (
            "SELECT r.id, r.import_id, i.file_name, r.row_number, r.reason, r.detail, r.raw"
            " FROM rejects r JOIN imports i ON i.id = r.import_id"
        )
        args: list = []
        if import_id is not None:
            sql += " WHERE r.import_id = ?"
            args.append(import_id)
        return pd.read_sql_query(sql + " ORDER BY r.id", self.conn, params=args)

    def reject_counts(self) -> pd.Series:
        rows = self.conn.execute(
            "SELECT reason, COUNT(*) FROM rejects GROUP BY reason ORDER BY 2 DESC"
        )
        return pd.Series(dict(rows.fetchall()), dtype="int64", name="rows")


def _chunks(
    columns: Mapping[str, np.ndarray], names: tuple[str, ...], rows: np.ndarray, import_id: int
):
    """The given rows as lists of tuples (plain Python values; NaN becomes NULL), CHUNK_ROWS at a time."""
    for start in range(0, len(rows), CHUNK_ROWS):
        take = rows[start : start + CHUNK_ROWS]
        values = []
        for name in names:
            column = np.asarray(columns[name])[take]
            if column.dtype.kind == "f" and np.isnan(column).any():
                column = np.where(np.isnan(column), None, column.astype(object))
            values.append(column.tolist())
        yield list(zip([import_id] * len(take), *values, strict=True))


def _bounds(period: Period) -> tuple[str, str]:
    """A period's bounds as ISO text comparable with ``occurred``.

    ``2017-01`` sorts before ``2017-01-01`` and ``2017-02`` after every January text, so a
    period of whole months is bounded by months and takes month-precision incidents; any other
    period is bounded by days and takes only incidents known to the day.
    """
    if period.start.day == 1 and period.end.day == 1:
        return period.start.strftime("%Y-%m"), period.end.strftime("%Y-%m")
    return period.start.isoformat(), period.end.isoformat()
