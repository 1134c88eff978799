"""The map page in a real browser: Debian's Chromium driven by Playwright, no network.

The app runs on a real server on 127.0.0.1 with a temporary store holding the bundled data and
no basemap tiles. A screenshot of the page is written to test-artefacts/ for a person to check.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from hotspots.config import PROJECT_ROOT
from hotspots.importer import import_paths
from hotspots.store import Store
from tests.conftest import USERS, copy_store, ensure_users, serving

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = PROJECT_ROOT / "test-artefacts"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is missing at /usr/bin/chromium; `make test` installs it.")
    pytest.skip("Chromium is not installed (make test installs it)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(bundled_db):
    with serving(bundled_db) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.foreign_requests = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            page.foreign_requests.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", None) and not r.url.startswith("data:")
            else None
        ),
    )
    sign_in(page, server)
    yield page
    context.close()


def sign_in(page, base: str, name: str = "analyst") -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", USERS[name][1])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#signed-in-as")


def _wait_for(page, expression: str, timeout: float = 30_000) -> None:
    """Poll a JavaScript expression from the test side (the page's CSP forbids eval there)."""
    waited = 0
    while not page.evaluate(expression):
        if waited > timeout:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)
        waited += 50


def _open(page, server, query=""):
    page.goto(f"{server}/{query}")
    page.wait_for_selector(".leaflet-container")
    page.wait_for_load_state("networkidle")


def _api_hotspots(page, server, query):
    return page.request.get(f"{server}/api/hotspots{query}").json()["features"]


def test_page_loads_offline_without_errors_and_is_screenshotted(page, server):
    _open(page, server, "?group=asb&period=custom&from=2017-02&to=2018-01")
    assert page.console_errors == []
    assert page.foreign_requests == []
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "map-page.png"), full_page=True)
    assert (ARTEFACTS / "map-page.png").stat().st_size > 20_000
    # Every coloured layer has a legend, and there is a scale bar.
    legend = page.inner_text(".map-legend")
    for title in ("Wards", "Surface", "Hotspots", "Incidents"):
        assert title in legend
    assert page.locator(".leaflet-control-scale").count() == 1


def test_map_holds_one_polygon_per_hotspot(page, server):
    query = "?group=violence&period=2017-12"
    _open(page, server, query)
    features = _api_hotspots(page, server, query)
    assert len(features) >= 1
    assert page.locator("path.hotspot-area").count() == len(features)
    assert page.locator(".rank-label").count() == len(features)


def test_changing_the_form_updates_map_and_table(page, server):
    _open(page, server, "?group=asb&period=2017-12")
    before = page.inner_text("#hotspot-table")
    page.select_option("select[name=area]", "Hucknall")
    page.wait_for_url("**area=Hucknall**")
    page.wait_for_selector(".leaflet-container")
    features = _api_hotspots(page, server, "?group=asb&period=2017-12&area=Hucknall")
    assert page.locator("path.hotspot-area").count() == len(features)
    after = page.inner_text("#hotspot-table")
    assert after != before and "Hucknall" in after
    page.select_option("select[name=group]", "violence")
    page.wait_for_url("**group=violence**")
    assert "Violence" in page.inner_text("aside h2")
    page.select_option("select[name=period]", "2017-11")
    page.wait_for_url("**period=2017-11**")
    assert "2017-11" in page.inner_text("#totals")


def test_clicking_a_hotspot_shows_its_top_street(page, server):
    query = "?group=asb&period=2017-12"
    _open(page, server, query)
    features = _api_hotspots(page, server, query)
    label = page.locator(".rank-label", has_text="1").first.bounding_box()
    page.mouse.click(label["x"] + label["width"] / 2, label["y"] + label["height"] / 2)
    popup = page.wait_for_selector(".leaflet-popup-content")
    top_street = features[0]["properties"]["top_streets"].split("; ")[0]
    assert top_street in popup.inner_text()


def test_layer_control_toggles_the_incidents_layer(page, server):
    _open(page, server, "?group=asb&period=2017-12&area=Selston")
    assert page.locator(".marker-cluster, .leaflet-marker-pane .leaflet-interactive").count() == 0
    toggle = page.locator(".leaflet-control-layers-overlays label", has_text="Incidents").locator(
        "input"
    )
    toggle.check()
    _wait_for(page, "document.body.dataset.incidentsLoaded !== undefined")
    loaded = int(page.evaluate("document.body.dataset.incidentsLoaded"))
    assert loaded > 0
    page.wait_for_timeout(300)
    shown = page.locator(".marker-cluster").count() + page.locator("path[fill='#2b8cbe']").count()
    assert shown > 0
    toggle.uncheck()
    page.wait_for_timeout(300)
    assert (
        page.locator(".marker-cluster").count() + page.locator("path[fill='#2b8cbe']").count() == 0
    )
    assert page.console_errors == []


def test_print_view_prints_to_the_same_number_of_a4_pages(page, server):
    import io

    from pypdf import PdfReader

    page.goto(f"{server}/tasking?area=Hucknall&group=asb&period=2017-12")
    page.wait_for_load_state("networkidle")
    sections = page.locator("section.page").count()
    patrol_areas = page.locator("section.patrol-area").count()
    assert patrol_areas >= 1 and sections == patrol_areas + 1
    assert page.console_errors == [] and page.foreign_requests == []
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == sections
    (ARTEFACTS / "tasking-print.pdf").write_bytes(pdf)
    server_pdf = page.request.get(
        f"{server}/tasking.pdf?area=Hucknall&group=asb&period=2017-12"
    ).body()
    assert len(PdfReader(io.BytesIO(server_pdf)).pages) == sections


def test_analyst_preview_and_scores_follow_a_parameter_change(page, server):
    page.goto(f"{server}/analyst?group=asb&from=2017-02&to=2018-01&method=kde")
    _wait_for(page, "document.body.dataset.previews === '1'", 20_000)
    first_scores = page.inner_text("#scores")
    assert "PAI" in first_scores and "PEI" in first_scores
    assert page.locator("path.preview-hotspot").count() == int(
        page.evaluate("document.body.dataset.hotspots")
    )
    assert page.locator("#pai-chart rect").count() == 6  # one bar per test month
    bandwidth = page.locator("input[name='param.bandwidth']")
    assert bandwidth.get_attribute("min") == "25"  # the form comes from the parameter spec
    bandwidth.fill("1500")
    _wait_for(page, "document.body.dataset.previews === '2'", 20_000)
    assert page.inner_text("#scores") != first_scores
    assert page.locator("path.preview-hotspot").count() == int(
        page.evaluate("document.body.dataset.hotspots")
    )
    page.select_option("select[name=method]", "grid")
    _wait_for(page, "document.body.dataset.previews === '3'", 20_000)
    assert page.locator("input[name='param.threshold_k']").count() == 1
    assert page.console_errors == [] and page.foreign_requests == []


XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, pack):
    """A store whose busiest street is named with HTML (generated: a crafted export)."""
    import pandas as pd

    from hotspots.geocode import bng_to_lonlat
    from hotspots.ingest.mapping import ColumnMapping

    folder = tmp_path_factory.mktemp("hostile")
    lon, lat = bng_to_lonlat([453_700.0] * 40, [349_000.0] * 40)
    export = pd.DataFrame(
        {
            "When": "2017-12-05",
            "Type": "Anti-social behaviour",
            "Lat": lat,
            "Lon": lon,
            "Street": XSS,
        }
    )
    path = folder / "hostile.csv"
    export.to_csv(path, index=False)
    db = folder / "store.sqlite"
    with Store(db) as store:
        mapping = ColumnMapping(
            {"date": "When", "category": "Type", "lat": "Lat", "lon": "Lon", "location": "Street"},
            source="crafted",
        )
        import_paths(store, [path], pack, mapping=mapping)
    ensure_users(db)
    with serving(db) as base:
        yield base


def test_incident_text_is_shown_as_text_everywhere(page, hostile_server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, hostile_server)
    _open(page, hostile_server, "?group=asb&period=2017-12&method=grid")
    assert XSS in page.inner_text("#hotspot-table")  # shown literally, not as an image
    assert page.locator("#hotspot-table img").count() == 0
    label = page.locator(".rank-label").first.bounding_box()
    page.mouse.click(label["x"] + label["width"] / 2, label["y"] + label["height"] / 2)
    assert XSS in page.wait_for_selector(".leaflet-popup-content").inner_text()
    page.locator(".leaflet-control-layers-overlays label", has_text="Incidents").locator(
        "input"
    ).check()
    _wait_for(page, "document.body.dataset.incidentsLoaded !== undefined")
    page.goto(f"{hostile_server}/tasking?area=Hucknall&group=asb&period=2017-12&method=grid")
    page.wait_for_load_state("networkidle")
    assert XSS in page.inner_text("body")
    page.goto(f"{hostile_server}/analyst?group=asb&period=2017-12&method=grid")
    _wait_for(page, "document.body.dataset.previews === '1'")
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory, bundled_db):
    """A server on a private copy of the bundled store, for a test that imports into it."""
    db = copy_store(bundled_db, tmp_path_factory.mktemp("upload") / "store.sqlite")
    with serving(db) as base:
        yield base


def test_a_new_user_must_sign_in_and_an_analyst_uploads_the_bundled_zip(browser, upload_server):
    base = upload_server
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A stranger gets the sign-in page, not the map, and the API answers 401.
    page.goto(f"{base}/?group=asb")
    assert "/login" in page.url and page.locator(".leaflet-container").count() == 0
    assert page.request.get(f"{base}/api/hotspots").status == 401
    page.fill("input[name=username]", "analyst")
    page.fill("input[name=password]", "a wrong password")
    page.click("#login-form button[type=submit]")
    assert "Wrong username or password." in page.inner_text(".error")
    # The analyst signs in, lands on the map they asked for, and imports the zip.
    page.fill("input[name=username]", "analyst")
    page.fill("input[name=password]", USERS["analyst"][1])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(".leaflet-container")
    assert "group=asb" in page.url
    page.click("header nav a:has-text('Import')")
    page.set_input_files(
        "input[type=file]",
        str(PROJECT_ROOT / "data/downloads/policeuk-2019-09-nottinghamshire.zip"),
    )
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#import-job[data-state=done]", timeout=120_000)
    summary = page.inner_text("#import-job")
    assert "1,334 already stored" in summary and "10,138 rejected" in summary
    with page.expect_download() as download:
        page.click("text=rejects (CSV)")
    rejects = Path(download.value.path()).read_text()
    assert (
        rejects.startswith("id,import_id,file_name,row_number,reason")
        and "outside district" in rejects
    )
    assert errors == []
    # Signing out ends it.
    page.click("header form.signout button")
    page.wait_for_url("**/login")
    page.goto(f"{base}/import")
    assert "/login" in page.url
    context.close()
