"""Column mappings: which column of an export holds which incident field.

A mapping is given on the command line (``--map date=Reported --map postcode="Post Code"``) or
saved as TOML::

    source = "council-asb"      # names the system; keys records so re-imports add nothing
    [columns]
    id = "Case Ref"
    datetime = "Reported"
    category = "Type"
    postcode = "Postcode"
    location = "Street"

Location comes from ``lat``/``lon``, ``easting``/``northing`` (EPSG:27700) or ``postcode``. When
several are mapped, each row uses the first it has, in that order, so a row with blank
coordinates but a postcode is still placed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hotspots.errors import MappingError

FIELDS = {
    "id": "record reference; rows with the same id are the same incident",
    "date": "date or date-time (ISO 8601, or dd/mm/yyyy with optional HH:MM)",
    "datetime": "same as date",
    "time": "time of day HH:MM, when it is in a column of its own",
    "category": "incident category or crime type",
    "lat": "latitude (WGS84)",
    "lon": "longitude (WGS84)",
    "easting": "British National Grid easting (EPSG:27700)",
    "northing": "British National Grid northing (EPSG:27700)",
    "postcode": "postcode, looked up in the postcode table",
    "location": "street or place description, e.g. 'On or near Outram Street'",
    "lsoa": "LSOA code recorded with the incident",
    "outcome": "outcome or status",
}


@dataclass(frozen=True)
class ColumnMapping:
    """Where each incident field is found in a file's columns."""

    columns: dict[str, str] = field(default_factory=dict)
    source: str = "local"
    # police.uk reuses a few Crime IDs within a month for different records, so its ids are
    # not unique; see hotspots.ingest.parse for the keying rule that follows.
    id_unique: bool = True

    @property
    def date_column(self) -> str | None:
        return self.columns.get("datetime") or self.columns.get("date")

    def check(self) -> None:
        """Raise MappingError unless the mapping names a date, a category and a location."""
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise MappingError(
                f"Unknown mapping field(s): {', '.join(unknown)}. Fields are: {', '.join(FIELDS)}."
            )
        missing = []
        if not self.date_column:
            missing.append("date (or datetime)")
        if "category" not in self.columns:
            missing.append("category")
        if not self.location_kinds:
            missing.append("a location: lat and lon, easting and northing, or postcode")
        for a, b in (("lat", "lon"), ("easting", "northing")):
            if (a in self.columns) != (b in self.columns):
                missing.append(b if a in self.columns else a)
        if missing:
            raise MappingError("The column mapping needs " + "; ".join(missing) + ".")

    @property
    def location_kinds(self) -> list[str]:
        kinds = []
        if "lat" in self.columns and "lon" in self.columns:
            kinds.append("latlon")
        if "easting" in self.columns and "northing" in self.columns:
            kinds.append("bng")
        if "postcode" in self.columns:
            kinds.append("postcode")
        return kinds

    def check_header(self, header: list[str], file_name: str) -> None:
        """Raise MappingError naming every mapped column the file does not have."""
        absent = [f"{f}={c!r}" for f, c in self.columns.items() if c not in header]
        if absent:
            raise MappingError(
                f"{file_name} has no column(s) {', '.join(absent)}. "
                f"Its columns are: {', '.join(repr(h) for h in header)}."
            )

    # -- reading and writing ------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> ColumnMapping:
        path = Path(path)
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise MappingError(f"The mapping file {path} does not exist.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"The mapping file {path} is not valid TOML: {exc}") from exc
        columns = document.get("columns")
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise MappingError(
                f'The mapping file {path} needs a [columns] table of field = "Column".'
            )
        mapping = cls(
            columns=dict(columns),
            source=str(document.get("source", "local")),
            id_unique=bool(document.get("id_unique", True)),
        )
        mapping.check()
        return mapping

    @classmethod
    def from_options(
        cls, pairs: list[str], source: str = "local", base: ColumnMapping | None = None
    ):
        """Build from ``field=Column`` strings, on top of ``base`` if given."""
        columns = dict(base.columns) if base else {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column:
                raise MappingError(
                    f"'{pair}' is not of the form field=Column (e.g. date=Reported)."
                )
            columns[name.strip()] = column
        mapping = cls(columns=columns, source=base.source if base else source)
        mapping.check()
        return mapping

    def to_toml(self) -> str:
        def quote(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [
            f"source = {quote(self.source)}",
            f"id_unique = {str(self.id_unique).lower()}",
            "",
            "[columns]",
        ]
        lines += [f"{name} = {quote(column)}" for name, column in self.columns.items()]
        return "\n".join(lines) + "\n"


POLICE_UK_COLUMNS = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]

POLICE_UK = ColumnMapping(
    columns={
        "id": "Crime ID",
        "date": "Month",
        "category": "Crime type",
        "lon": "Longitude",
        "lat": "Latitude",
        "location": "Location",
        "lsoa": "LSOA code",
        "outcome": "Last outcome category",
    },
    source="police.uk",
    id_unique=False,
)


def is_police_uk_header(header: list[str]) -> bool:
    """True when a header is a police.uk street-level file's (extra columns allowed)."""
    return all(column in header for column in POLICE_UK.columns.values())
