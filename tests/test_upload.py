"""Importing from the browser's upload form: the same import path as the CLI, guarded."""

from __future__ import annotations

import io
import re
import sqlite3
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from hotspots.accounts import Accounts
from hotspots.boundaries import load_pack
from hotspots.config import DEFAULT_PACK, PROJECT_ROOT
from hotspots.errors import StoreError
from hotspots.importer import import_paths
from hotspots.store import Store
from tests.conftest import FIXTURES, csrf, sign_in, web_client

BUNDLED_ZIP = PROJECT_ROOT / "data" / "downloads" / "policeuk-2019-09-nottinghamshire.zip"
BAD = FIXTURES / "bad"


def _upload(client, name: str, data: bytes, **fields):
    """Post the upload form with the file and any other ``fields`` (names as in the form)."""
    return client.post(
        "/import",
        data={**fields, "file": (io.BytesIO(data), name), "csrf_token": csrf(client)},
        content_type="multipart/form-data",
    )


def _finish(client, answer, timeout: float = 120) -> str:
    """Follow an upload to its job page and wait until the import has finished."""
    assert answer.status_code == 302, answer.data[:400]
    url = answer.headers["Location"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        page = client.get(url).data.decode()
        if 'data-state="running"' not in page:
            return re.sub(r"\s+", " ", page)  # as read: one space between words
        time.sleep(0.2)
    raise AssertionError("the import did not finish")


def _state(db) -> tuple[int, int, int]:
    with Store(db) as store:
        return store.count(), len(store.rejects()), len(store.imports())


def test_analyst_uploads_the_bundled_police_uk_zip(bundled_copy):
    client = web_client(bundled_copy, "analyst")
    before = _state(bundled_copy)
    page = _finish(client, _upload(client, BUNDLED_ZIP.name, BUNDLED_ZIP.read_bytes()))
    assert 'data-state="done"' in page
    # The force-wide month: Ashfield's rows are stored already, the rest are rejected as outside.
    assert "0 new incidents, 1,334 already stored, 10,138 rejected" in page
    assert "outside district 10,051" in page and "no coordinates 84" in page
    with Store(bundled_copy) as store:
        imports = store.imports()
    last = imports.iloc[-1]
    assert last["file_name"].endswith("!2019-09/2019-09-nottinghamshire-street.csv")
    assert last["imported_by"] == "analyst" and len(last["sha256"]) == 64
    assert _state(bundled_copy)[0] == before[0]
    # The reject report can be downloaded from the result page.
    rejects_url = f"/import/{last['id']}/rejects.csv"
    assert rejects_url in page
    rejects = pd.read_csv(io.StringIO(client.get(rejects_url).data.decode()))
    assert len(rejects) == 10_138 and set(rejects["reason"]) >= {"outside district"}
    # Uploading the same zip again adds nothing twice.
    again = _finish(client, _upload(client, BUNDLED_ZIP.name, BUNDLED_ZIP.read_bytes()))
    assert "0 new incidents, 1,334 already stored" in again
    with Accounts.for_store(bundled_copy) as accounts:
        lines = accounts.audit(username="analyst")
    assert [line["action"] for line in lines[:3]] == ["import", "export", "import"]
    assert "1,334 already stored" in lines[2]["detail"]
    uploads = Path(client.application.instance_path) / "uploads"
    assert not list(uploads.glob("upload-*")), "the uploaded copy is removed"


def test_a_new_month_is_imported_and_mapped(bundled_copy):
    """A police.uk month the store lacks (generated from January 2018 as 2018-02)."""
    january = (PROJECT_ROOT / "data/policeuk/ashfield/2018-01-ashfield-street.csv").read_text()
    february = january.replace(",2018-01,", ",2018-02,")
    client = web_client(bundled_copy, "analyst")
    page = _finish(client, _upload(client, "2018-02-ashfield-street.csv", february.encode()))
    assert 'data-state="done"' in page
    with Store(bundled_copy) as store:
        assert "2018-02" in store.months()
    assert "2018-02" in client.get("/?group=asb&period=2018-02").data.decode()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("incidents.xlsx", b"PK\x03\x04rest", "is not a .csv or .zip file"),
        ("report.pdf", b"%PDF-1.4", "is not a .csv or .zip file"),
        ("excel-renamed.csv", (BAD / "excel-renamed.csv").read_bytes(), "Excel workbook"),
        ("fake.zip", b"Crime ID,Month\n", "is not a zip file"),
        ("empty.csv", b"", "is empty"),
    ],
)
def test_uploads_are_checked_by_extension_and_content(bundled_copy, name, data, words):
    client = web_client(bundled_copy, "analyst")
    before = _state(bundled_copy)
    answer = _upload(client, name, data)
    assert answer.status_code == 400 and words in answer.data.decode()
    assert _state(bundled_copy) == before


def test_upload_size_limit(bundled_copy):
    client = web_client(bundled_copy, "analyst", MAX_CONTENT_LENGTH=1024 * 1024)
    answer = _upload(client, "big.csv", b"x" * (2 * 1024 * 1024))
    assert answer.status_code == 413
    assert "larger than the 1 MB limit" in answer.data.decode()


def test_default_upload_limit_is_100_mb(bundled_copy):
    client = web_client(bundled_copy, "analyst")
    assert client.application.config["MAX_CONTENT_LENGTH"] == 100 * 1024 * 1024
    assert "at most 100 MB" in client.get("/import").data.decode()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


GOOD_LINE = (BAD / "utf8-bom.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("traversal.zip", _zip({"../../etc/2017-01-street.csv": GOOD_LINE}), "unsafe path"),
        # Generated here: 60 MB of zeros packs into about 60 KB.
        ("bomb.zip", _zip({"2017-01/2017-01-x-street.csv": b"0" * (60 * 1024 * 1024)}), "zip bomb"),
        ("nested.zip", _zip({"inner.zip": _zip({"a.csv": GOOD_LINE})}), "zip inside a zip"),
        ("wrong-delimiter.csv", (BAD / "wrong-delimiter.csv").read_bytes(), "not a police.uk"),
        ("header-only.csv", (BAD / "header-only.csv").read_bytes(), "no rows"),
    ],
)
def test_bad_uploads_say_why_and_store_nothing(bundled_copy, name, data, words):
    client = web_client(bundled_copy, "analyst")
    before = _state(bundled_copy)
    page = _finish(client, _upload(client, name, data))
    assert 'data-state="failed"' in page and words in page
    assert "Traceback" not in page and str(bundled_copy.parent) not in page
    assert _state(bundled_copy) == before


def test_a_file_with_bad_rows_gets_a_downloadable_reject_report(bundled_copy):
    client = web_client(bundled_copy, "analyst")
    page = _finish(
        client, _upload(client, "future-dates.csv", (BAD / "future-dates.csv").read_bytes())
    )
    assert 'data-state="done"' in page and "bad date 1" in page
    import_id = page.split("/rejects.csv")[0].rsplit("/import/", 1)[1]
    rejects = pd.read_csv(io.StringIO(client.get(f"/import/{import_id}/rejects.csv").data.decode()))
    assert rejects["reason"].tolist() == ["bad date"] and rejects["raw"].iloc[0]


def test_viewers_cannot_upload_and_jobs_are_private(bundled_copy):
    analyst = web_client(bundled_copy, "analyst")
    answer = _upload(analyst, "future-dates.csv", (BAD / "future-dates.csv").read_bytes())
    _finish(analyst, answer)
    viewer = analyst.application.test_client()
    sign_in(viewer, "viewer")
    assert _upload(viewer, "x.csv", b"a,b\n1,2\n").status_code == 403
    assert viewer.get(answer.headers["Location"]).status_code == 403
    admin = analyst.application.test_client()  # admins may look at anyone's upload
    sign_in(admin, "admin")
    assert admin.get(answer.headers["Location"]).status_code == 200
    with Accounts.for_store(bundled_copy) as accounts:
        accounts.add("second-analyst", "analyst", "second-analyst-1")
    other = analyst.application.test_client()  # other analysts may not
    sign_in(other, "second-analyst", "second-analyst-1")
    assert other.get(answer.headers["Location"]).status_code == 404


def test_file_names_are_shown_as_text(bundled_copy):
    client = web_client(bundled_copy, "analyst")
    hostile = "<img src=x onerror=alert(1)>.csv"
    page = _finish(client, _upload(client, hostile, (BAD / "future-dates.csv").read_bytes()))
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in page and "<img src=x" not in page
    listing = client.get("/import").data.decode()
    assert "<img src=x" not in listing
    audit = web_client(bundled_copy, "admin").get("/admin/audit?action=import").data.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in audit and "<img src=x" not in audit


def test_uploads_take_turns_and_a_locked_store_is_a_sentence(bundled_copy, monkeypatch):
    from hotspots.web import imports

    client = web_client(bundled_copy, "analyst")
    with imports._IMPORT_SLOT:  # as if another upload were importing
        answer = _upload(client, "future-dates.csv", (BAD / "future-dates.csv").read_bytes())
        time.sleep(0.5)
        page = client.get(answer.headers["Location"]).text
        assert 'data-state="running"' in page and "waiting for the import before it" in page
    assert 'data-state="done"' in _finish(client, answer)
    # A write that cannot get the store (here: held by the test) gives up with a sentence.
    monkeypatch.setattr("hotspots.store.LOCK_WAIT_S", 0.2)
    holder = sqlite3.connect(bundled_copy, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(bundled_copy) as store, pytest.raises(StoreError, match="Another import"):
            import_paths(store, [BAD / "utf8-bom.csv"], load_pack(DEFAULT_PACK))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_council_export_is_imported_with_a_mapping_kept_for_next_time(bundled_copy, tmp_path):
    """A council ASB export (generated: dates and times, which police.uk lacks)."""
    rows = pd.read_csv(FIXTURES / "policeuk" / "2017-12-ashfield-sample.csv", dtype=str)
    export = pd.DataFrame(
        {
            "Ref": [f"ASB/{i:05d}" for i in range(len(rows))],
            "Reported": [f"{1 + i % 28:02d}/12/2017 2{i % 4}:15" for i in range(len(rows))],
            "Type": "Noise nuisance",
            "Lat": rows["Latitude"],
            "Long": rows["Longitude"],
            "Where": rows["Location"],
        }
    )
    data = export.to_csv(index=False).encode()
    client = web_client(bundled_copy, "analyst")
    page = client.get("/import").text
    assert 'name="column.date"' in page and 'name="column.postcode"' in page
    columns = {"id": "Ref", "date": "Reported", "category": "Type", "lat": "Lat", "lon": "Long"}
    columns["location"] = "Where"
    form = {f"column.{field}": column for field, column in columns.items()}
    answer = _upload(
        client, "council-asb.csv", data, source="Council ASB", save_mapping="1", **form
    )
    page = _finish(client, answer)
    assert 'data-state="done"' in page and f"{len(export):,} new incidents" in page
    with Store(bundled_copy) as store:
        stored = store.incidents(columns=["occurred", "category"])
    noise = stored[stored["category"] == "Noise nuisance"]
    assert len(noise) == len(export) and noise["occurred"].str.len().eq(16).all()
    # The mapping was kept: the next export needs only its name.
    assert '<option value="council-asb">' in client.get("/import").text
    again = _upload(client, "council-asb.csv", data, mapping="council-asb")
    assert f"0 new incidents, {len(export):,} already stored" in _finish(client, again)
    # An incomplete mapping is a sentence before anything is read.
    bad = _upload(client, "council-asb.csv", data, **{"column.date": "Reported"})
    assert bad.status_code == 400 and "needs category" in bad.text
    # Without a mapping, a local export is explained in the page's own terms.
    plain = _finish(client, _upload(client, "council-asb.csv", data))
    assert "open “A local export”" in plain and "--map" not in plain
