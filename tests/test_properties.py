"""Property-based tests (hypothesis) of the readers and the column mapping: whatever a file
holds, the importer answers with records, rejects or a sentence, and never loses a row."""

from __future__ import annotations

import csv
import io
import string

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots.errors import HotspotsError
from hotspots.importer import prepare
from hotspots.ingest.mapping import POLICE_UK_COLUMNS, ColumnMapping
from hotspots.ingest.parse import parse_dates
from hotspots.ingest.postcodes import normalise
from hotspots.ingest.sources import read_table
from tests.conftest import TODAY

text = st.text(alphabet=string.printable + "é£–’", max_size=30)
numberish = st.one_of(
    text,
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.floats(min_value=-2.0, max_value=0.5).map(lambda v: f"{v:.6f}"),
    st.floats(min_value=52.9, max_value=53.3).map(lambda v: f"{v:.6f}"),
)
dateish = st.one_of(
    text,
    st.dates().map(lambda d: d.strftime("%Y-%m")),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(dateish, min_size=1, max_size=20))
def test_dates_are_parsed_or_explained(values):
    parsed = parse_dates(pd.Series(values), TODAY)
    for occurred, precision, problem in zip(
        parsed.occurred, parsed.precision, parsed.problem, strict=True
    ):
        if problem:
            assert isinstance(problem, str)
        else:
            assert precision in ("month", "day", "minute")
            assert len(occurred) == {"month": 7, "day": 10, "minute": 16}[precision]
            assert occurred[:4] >= "2000" and occurred[:10] <= TODAY.isoformat()


@settings(max_examples=200, deadline=None)
@given(st.lists(text, max_size=20))
def test_postcode_normalising_is_idempotent(values):
    once = normalise(pd.Series(values, dtype=object))
    assert normalise(once).tolist() == once.tolist()
    assert all(v == "" or (v == v.upper() and " " in v) for v in once)


row_strategy = st.fixed_dictionaries(
    {
        "Crime ID": st.one_of(
            st.just(""), st.text(alphabet="0123456789abcdef", min_size=1, max_size=8)
        ),
        "Month": dateish,
        "Longitude": numberish,
        "Latitude": numberish,
        "Location": text,
        "LSOA code": st.sampled_from(["", "E01027979", "E01028000", "junk"]),
        "Crime type": st.sampled_from(["", "Anti-social behaviour", "Burglary", " Drugs "]),
    }
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(row_strategy, min_size=1, max_size=15))
def test_every_police_uk_row_is_stored_or_rejected(pack, rows):
    buffer = io.StringIO()
    # CRLF line ends, so that a value holding a bare CR or LF is quoted, as Excel does.
    writer = csv.DictWriter(buffer, fieldnames=POLICE_UK_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in POLICE_UK_COLUMNS})
    table, _ = read_table(buffer.getvalue().encode("utf-8"), "generated.csv")
    from hotspots.ingest.mapping import POLICE_UK

    prepared = prepare(table, POLICE_UK, pack, today=TODAY)
    assert len(prepared.incidents["key"]) + len(prepared.rejects["reason"]) == len(rows)
    assert set(prepared.rejects["reason"]) <= {
        "no coordinates", "invalid coordinates", "outside district", "unknown postcode",
        "bad date", "missing category", "duplicate",
    }  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "date",
                "datetime",
                "time",
                "category",
                "lat",
                "lon",
                "easting",
                "northing",
                "postcode",
                "location",
                "colour",
            ]
        ),
        text,
        max_size=8,
    )
)
def test_a_mapping_is_valid_or_says_what_is_missing(columns):
    try:
        mapping = ColumnMapping.from_options([f"{k}={v}" for k, v in columns.items()])
    except HotspotsError as exc:
        assert str(exc).strip()
        return
    assert mapping.date_column and "category" in mapping.columns and mapping.location_kinds


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_table_or_a_sentence(data):
    try:
        table, encoding = read_table(data, "random.csv")
    except HotspotsError as exc:
        assert str(exc).strip()
        return
    assert encoding in ("utf-8", "windows-1252")
    assert isinstance(table, pd.DataFrame)
