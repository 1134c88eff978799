"""Tasking packs: patrol areas, stable IDs, peak times, dosage, and the printed pack."""

from __future__ import annotations

import io
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from hotspots.config import BUILTIN_GROUPS
from hotspots.importer import import_paths
from hotspots.ingest.categories import CategoryGroups
from hotspots.ingest.mapping import ColumnMapping
from hotspots.periods import parse_period
from hotspots.printing import html_document, pdf_bytes
from hotspots.store import Store
from hotspots.tasking import build_pack, grid_reference, peak_windows, trend_label
from tests.conftest import POLICEUK_FIXTURES

GROUPS = CategoryGroups.load(BUILTIN_GROUPS)
HUCKNALL_CENTRE = (453_700.0, 349_000.0)


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def _export(path, rows: pd.DataFrame, x, y, when) -> None:
    from hotspots.geocode import bng_to_lonlat

    lon, lat = bng_to_lonlat(x, y)
    pd.DataFrame(
        {"When": when, "Type": rows, "Lat": lat, "Lon": lon, "Street": "On or near Test Street"}
    ).to_csv(path, index=False)


def _hucknall(store, pack, month: str, group: str, **options):
    """The tasking pack for Hucknall for one month."""
    return build_pack(store, pack, GROUPS, group, parse_period(month), ["Hucknall"], **options)


MAPPING = ColumnMapping(
    {"datetime": "When", "category": "Type", "lat": "Lat", "lon": "Lon", "location": "Street"}
)


def test_pack_for_hucknall_asb_prints_a_cover_and_a_page_per_patrol_area(bundled_copy, pack):
    with Store(bundled_copy) as store:
        tasking = _hucknall(store, pack, "2017-12", "asb", method="grid")
    assert [p.id for p in tasking.patrol_areas] and all(
        p.id.startswith("HUC-ASB-") for p in tasking.patrol_areas
    )
    assert [p.priority for p in tasking.patrol_areas] == [1, 2, 3]
    pages, text = _text(pdf_bytes(tasking, pack))
    assert pages == 1 + len(tasking.patrol_areas)
    assert "Patrol tasking pack" in text and "Hucknall" in text
    for patrol in tasking.patrol_areas:
        assert patrol.id in text
        assert patrol.top_streets[0] in text.replace("\n", " ")
        assert "police.uk" in patrol.when_note  # month-only data says it has no times
    assert "Patrol log" in text and "officer-minutes a week" in text
    first = tasking.patrol_areas[0]
    assert (first.visits_per_day, first.visit_minutes, first.officer_minutes_per_week) == (
        3,
        15,
        315,
    )


def test_streets_and_counts_equal_the_fixture(fixture_db, pack):
    with Store(fixture_db) as store:
        tasking = _hucknall(
            store, pack, "2017-12", "violence", method="grid", params={"cell_size": 100}
        )
    rows = pd.read_csv(POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv", dtype=str)
    rows = rows[rows["Crime type"] == "Violence and sexual offences"]
    points = gpd.GeoDataFrame(
        rows,
        geometry=gpd.points_from_xy(
            rows["Longitude"].astype(float), rows["Latitude"].astype(float)
        ),
        crs=4326,
    ).to_crs(27700)
    assert tasking.patrol_areas
    for patrol in tasking.patrol_areas:
        inside = points[points.within(patrol.polygon)]
        assert patrol.incidents == len(inside)
        counts = inside["Location"].value_counts()
        expected = sorted(counts.index, key=lambda s: (-counts[s], s))[:3]
        assert patrol.top_streets == expected
    # Hucknall's violence in December: 6 in Hucknall North, all in the fixture's Hucknall rows.
    assert tasking.totals == {"Hucknall": 6}


def _planted_months(path, months, extra=None):
    """Generated incidents (police.uk has no planted truth): a cluster that persists each month."""
    rng = np.random.default_rng(5)
    frames = []
    for month in months:
        n = 25
        x = rng.normal(HUCKNALL_CENTRE[0], 30, n)
        y = rng.normal(HUCKNALL_CENTRE[1], 30, n)
        frames.append(
            pd.DataFrame(
                {"x": x, "y": y, "when": f"{month}-10 21:00", "type": "Anti-social behaviour"}
            )
        )
        if extra and month in extra:
            ex, ey = extra[month]
            frames.append(
                pd.DataFrame(
                    {
                        "x": rng.normal(ex, 30, 20),
                        "y": rng.normal(ey, 30, 20),
                        "when": f"{month}-12 14:00",
                        "type": "Anti-social behaviour",
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    _export(path, table["type"], table["x"].to_numpy(), table["y"].to_numpy(), table["when"])


def test_ids_stay_stable_for_a_persistent_hotspot(tmp_path, pack):
    path = tmp_path / "planted.csv"
    # The persistent cluster, and in December a new, bigger one 1.5 km away that outranks it.
    _planted_months(
        path, ["2017-10", "2017-11", "2017-12"], extra={"2017-12": (452_900.0, 350_300.0)}
    )
    with Store(tmp_path / "planted.sqlite") as store:
        import_paths(store, [path], pack, mapping=MAPPING)
        november = _hucknall(
            store, pack, "2017-11", "asb", method="grid", params={"cell_size": 100}, top=1
        )
        december = _hucknall(
            store, pack, "2017-12", "asb", method="grid", params={"cell_size": 100}, top=2
        )
    persistent_nov = november.patrol_areas[0]
    assert (
        persistent_nov.polygon.distance(
            gpd.points_from_xy([HUCKNALL_CENTRE[0]], [HUCKNALL_CENTRE[1]])[0]
        )
        < 60
    )
    by_place = {round(p.polygon.centroid.x, -3): p for p in december.patrol_areas}
    persistent_dec = min(
        december.patrol_areas, key=lambda p: p.polygon.distance(persistent_nov.polygon)
    )
    assert persistent_dec.id == persistent_nov.id == "HUC-ASB-01"
    newcomer = next(p for p in december.patrol_areas if p is not persistent_dec)
    assert newcomer.id != persistent_dec.id and newcomer.trend == "new"
    assert persistent_dec.trend == "persistent" and len(by_place) == 2


def test_peak_windows_on_generated_times(tmp_path, pack):
    """police.uk has no times, so incidents with known times are generated: Friday 20:00–22:00
    is the busiest window, Saturday 13:00–15:00 the next."""
    rng = np.random.default_rng(9)
    # Fridays and Saturdays of December 2017: the 1st, 8th, 15th, 22nd, 29th are Fridays.
    when = [
        f"2017-12-{d:02d} {h:02d}:{m:02d}"
        for d, h, m in zip(
            rng.choice([1, 8, 15, 22, 29], 30),
            rng.choice([20, 21], 30),
            rng.integers(0, 60, 30),
            strict=True,
        )
    ]
    when += [
        f"2017-12-{d:02d} {h:02d}:30"
        for d, h in zip(rng.choice([2, 9, 16], 12), rng.choice([13, 14], 12), strict=True)
    ]
    when += [f"2017-12-{d:02d} 09:15" for d in (4, 5, 6)]
    n = len(when)
    x = rng.normal(HUCKNALL_CENTRE[0], 30, n)
    y = rng.normal(HUCKNALL_CENTRE[1], 30, n)
    path = tmp_path / "timed.csv"
    _export(path, pd.Series(["Anti-social behaviour"] * n), x, y, when)
    with Store(tmp_path / "timed.sqlite") as store:
        import_paths(store, [path], pack, mapping=MAPPING)
        tasking = _hucknall(
            store, pack, "2017-12", "asb", method="grid", params={"cell_size": 200}, top=1
        )
    patrol = tasking.patrol_areas[0]
    assert patrol.hour_weekday is not None and patrol.hour_weekday.sum() == patrol.incidents
    assert patrol.hour_weekday[4, 20] + patrol.hour_weekday[4, 21] == 30  # Friday 20:00–22:00
    assert patrol.peak_windows[0] == "Fri 20:00–22:00 (30 incidents)"
    assert patrol.peak_windows[1] == "Sat 13:00–15:00 (12 incidents)"
    pages, text = _text(pdf_bytes(tasking, pack))
    assert "Fri 20:00–22:00" in text and "within the peak windows" in text


def test_peak_windows_wrap_past_midnight():
    grid = np.zeros((7, 24), dtype=int)
    grid[5, 23] = 4  # Saturday 23:00
    grid[6, 0] = 3  # Sunday 00:00
    assert peak_windows(grid, windows=1) == ["Sat 23:00–01:00 (7 incidents)"]


def test_trend_rule():
    assert trend_label(5, 0, 0.3) == "new"
    assert trend_label(9, 4, 6.0) == "intensifying"
    assert trend_label(3, 6, 6.0) == "diminishing"
    assert trend_label(6, 5, 6.0) == "persistent"


def test_grid_references():
    assert grid_reference(453_700, 349_000) == "SK 53700 49000"
    assert grid_reference(651_409, 313_177) == "TG 51409 13177"  # OS's own example
    assert grid_reference(216_666, 771_288) == "NN 16666 71288"  # Ben Nevis


def test_html_print_view_escapes_and_shows_every_patrol_area(bundled_copy, pack):
    with Store(bundled_copy) as store:
        tasking = _hucknall(store, pack, "2017-12", "asb", method="grid")
    tasking.patrol_areas[0].top_streets[0] = "<img src=x onerror=alert(1)>"
    html = html_document(tasking, pack)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('class="page patrol-area"') == len(tasking.patrol_areas)
    assert "@page" in html and "A4" in html


def test_tasking_cli_writes_pdf_and_html(run_cli, bundled_copy, tmp_path):
    pdf = tmp_path / "pack.pdf"
    code, out, err = run_cli(
        "tasking",
        "--area",
        "Hucknall",
        "--group",
        "asb",
        "--from",
        "2017-12",
        "--to",
        "2017-12",
        "--top",
        "2",
        "--out",
        pdf,
        db=bundled_copy,
    )
    assert code == 0, err
    pages, text = _text(pdf.read_bytes())
    assert pages == 3 and "HUC-ASB-0" in text
    assert "Wrote the tasking pack (3 pages)" in out
    html = tmp_path / "pack.html"
    code, out, err = run_cli(
        "tasking",
        "--area",
        "Hucknall",
        "--group",
        "asb",
        "--from",
        "2017-12",
        "--out",
        html,
        db=bundled_copy,
    )
    assert code == 0 and "Patrol tasking pack" in html.read_text()
    code, out, err = run_cli(
        "tasking",
        "--area",
        "Atlantis",
        "--group",
        "asb",
        "--from",
        "2017-12",
        "--out",
        pdf,
        db=bundled_copy,
    )
    assert code == 2 and "no neighbourhood area called 'Atlantis'" in err


def test_tasking_pages_on_the_web(bundled_copy):
    from tests.conftest import web_client

    client = web_client(bundled_copy, "viewer")
    view = client.get("/tasking?area=Hucknall&group=asb&period=2017-12")
    assert view.status_code == 200
    html = view.data.decode()
    assert "Patrol tasking pack" in html and "HUC-ASB-" in html and "download the PDF" in html
    pdf = client.get("/tasking.pdf?area=Hucknall&group=asb&period=2017-12")
    assert pdf.mimetype == "application/pdf"
    pages, _ = _text(pdf.data)
    assert pages == 1 + html.count('class="page patrol-area"')
    assert client.get("/tasking?area=Atlantis").status_code == 400
    page = client.get("/?group=asb&period=2017-12&area=Hucknall North").data.decode()
    assert "Print the tasking pack for Hucknall" in page


@pytest.mark.parametrize("visit_minutes", [10, 20])
def test_dosage_follows_the_visit_length(bundled_copy, pack, visit_minutes):
    with Store(bundled_copy) as store:
        tasking = _hucknall(
            store, pack, "2017-12", "asb", method="grid", visit_minutes=visit_minutes, save=False
        )
    minutes = [p.officer_minutes_per_week for p in tasking.patrol_areas]
    assert minutes == [v * 7 * visit_minutes for v in (3, 2, 1)][: len(minutes)]
    assert tasking.patrol_minutes_per_week == sum(minutes)


def test_looking_at_a_pack_records_nothing_and_issuing_it_does(bundled_copy):
    from hotspots.accounts import Accounts
    from tests.conftest import csrf, web_client

    client = web_client(bundled_copy, "viewer")
    query = "area=Hucknall&group=asb&period=2017-12"
    page = client.get(f"/tasking?{query}").text
    client.get(f"/tasking.pdf?{query}")
    with Store(bundled_copy) as store:
        assert store.patrol_areas("asb", "Hucknall", "2017-12") == []
    assert "Not issued yet" in page and 'id="issue-form"' in page
    answer = client.post(
        "/tasking/issue",
        data={"area": "Hucknall", "group": "asb", "period": "2017-12", "csrf_token": csrf(client)},
    )
    assert answer.status_code == 302 and "area=Hucknall" in answer.headers["Location"]
    with Store(bundled_copy) as store:
        issued = sorted(i for i, _ in store.patrol_areas("asb", "Hucknall", "2017-12"))
    shown = sorted(set(re.findall(r"HUC-ASB-\d\d", page)))
    assert issued and issued == shown
    assert "Issued:" in client.get(f"/tasking?{query}").text
    # A different method shows different patrol areas: not the ones on record.
    assert "Not issued yet" in client.get(f"/tasking?{query}&method=grid&top=1").text
    with Accounts.for_store(bundled_copy) as accounts:
        line = accounts.audit(username="viewer", action="tasking_issue")[0]
    assert "asb 2017-12, Hucknall" in line["detail"] and issued[0] in line["detail"]
