"""Find incident files in what a user hands over: CSV files, folders and data.police.uk zips.

Nothing is extracted to disk: zip members are read in memory. Files that are not incident
records (police.uk outcomes and stop-and-search files, other file types, zips inside zips) are
skipped and reported, never silently dropped.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from hotspots.errors import InputFileError

_POLICE_UK_OTHER = re.compile(r"-(outcomes|stop-and-search)\.csv$", re.IGNORECASE)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip (xlsx is one), or an empty zip
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old Excel (.xls)
_EXCEL_MAGIC = (ZIP_MAGIC[0], OLE_MAGIC)


@dataclass(frozen=True)
class SourceFile:
    """One CSV to import: a display name and a way to read its bytes."""

    name: str
    read: Callable[[], bytes]
    # Named by the user (an error in it stops the import), rather than found in a folder or
    # zip (an unreadable one is skipped and reported).
    explicit: bool = False


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def _skip_reason(name: str) -> str | None:
    lower = name.lower()
    if _POLICE_UK_OTHER.search(lower):
        kind = "outcomes" if "outcomes" in lower else "stop-and-search"
        return f"police.uk {kind} file; only street-level crime files are imported"
    if lower.endswith(".zip"):
        return "zip inside a zip; unzip the outer file first"
    if not lower.endswith(".csv"):
        return "not a CSV file"
    return None


# Zip safety: members are read into memory, never extracted, and never beyond these sizes.
MAX_UNZIPPED_BYTES = 2 * 1024**3  # all CSV members of one zip together
MAX_RATIO = 200  # a member inflating more than this (and past 10 MB) is treated as a zip bomb


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _from_zip(path: Path, sources: list[SourceFile], skipped: list[Skipped]) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"{path} is not a readable zip file.") from exc
    with archive:
        members = sorted(
            (i for i in archive.infolist() if not i.is_dir()), key=lambda i: i.filename
        )
    wanted = []
    for info in members:
        display = f"{path.name}!{info.filename}"
        reason = _skip_reason(info.filename)
        if _unsafe_name(info.filename):
            reason = "unsafe path in the zip (absolute or with ..); not read"
        elif (
            not reason
            and info.file_size > 10 * 1024**2
            and info.file_size > MAX_RATIO * max(info.compress_size, 1)
        ):
            reason = f"inflates {info.file_size // max(info.compress_size, 1):,} times: looks like a zip bomb; not read"
        if reason:
            skipped.append(Skipped(display, reason))
        else:
            wanted.append(info)
    declared = sum(i.file_size for i in wanted)
    if declared > MAX_UNZIPPED_BYTES:
        raise InputFileError(
            f"{path.name} would unpack to {declared / 1024**3:.1f} GB, more than the "
            f"{MAX_UNZIPPED_BYTES / 1024**3:.0f} GB allowed. Import its months one at a time."
        )
    for info in wanted:

        def read(path=path, member=info.filename, limit=info.file_size) -> bytes:
            # Never trust the declared size: stop reading one byte past it.
            with zipfile.ZipFile(path) as z, z.open(member) as handle:
                data = handle.read(limit + 1)
            if len(data) > limit:
                raise InputFileError(
                    f"{member} in {path.name} is larger than its zip header says; not read."
                )
            return data

        sources.append(SourceFile(f"{path.name}!{info.filename}", read))


def discover(paths: list[str | Path]) -> tuple[list[SourceFile], list[Skipped]]:
    """Every CSV to import under ``paths`` (files, folders, zips), and what was skipped."""
    sources: list[SourceFile] = []
    skipped: list[Skipped] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise InputFileError(f"There is no file or folder at {path}.")
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.name.startswith("."):
                    continue
                if child.suffix.lower() == ".zip":
                    _from_zip(child, sources, skipped)
                    continue
                reason = _skip_reason(child.name)
                if reason:
                    skipped.append(Skipped(str(child), reason))
                else:
                    sources.append(SourceFile(str(child), child.read_bytes))
        elif zipfile.is_zipfile(path) and path.suffix.lower() == ".zip":
            _from_zip(path, sources, skipped)
        else:
            # A file named explicitly is read whatever its extension; content checks follow.
            sources.append(SourceFile(str(path), path.read_bytes, explicit=True))
    return sources, skipped


def _check_not_binary(raw: bytes, name: str) -> None:
    if not raw.strip():
        raise InputFileError(f"{name} is empty.")
    if raw.startswith(_EXCEL_MAGIC):
        raise InputFileError(
            f"{name} is a spreadsheet or archive, not CSV text. Open it in Excel and save it as CSV (UTF-8)."
        )


def _to_utf8(raw: bytes) -> tuple[bytes, str]:
    """The bytes as UTF-8 without a byte-order mark, and the encoding they were read as."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        raw.decode("utf-8")
        return raw, "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace").encode("utf-8"), "windows-1252"


def read_table(raw: bytes, name: str) -> tuple[pd.DataFrame, str]:
    """A CSV as a table of strings (no type guessing) and the encoding it was read with.

    UTF-8 with or without a byte-order mark, LF or CRLF; text that is not UTF-8 is read as
    Windows-1252 (what Excel on a council PC writes).
    """
    _check_not_binary(raw, name)
    data, encoding = _to_utf8(raw)
    try:
        # The pyarrow parser is multi-threaded and several times faster than the C one.
        table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, engine="pyarrow")
    except (pa.ArrowInvalid, ValueError) as exc:
        # pyarrow refuses line breaks inside quoted values, which Excel writes; the C parser
        # takes them. Only if it fails too is the file malformed.
        try:
            table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, ValueError, UnicodeDecodeError):
            raise InputFileError(
                f"{name} is not a well-formed CSV file: {_arrow_message(exc)}"
            ) from exc
        except pd.errors.EmptyDataError as empty:
            raise InputFileError(f"{name} has no header row.") from empty
    if table.columns.empty:
        raise InputFileError(f"{name} has no header row.")
    table.columns = [str(c).strip() for c in table.columns]
    return table.reset_index(drop=True), encoding


def _arrow_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".") + "."
