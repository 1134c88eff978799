"""The web service through Flask's test client: health, the map page, the API and its errors."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from hotspots.importer import import_paths
from hotspots.store import Store
from tests.conftest import web_client


@pytest.fixture(scope="module")
def web_db(bundled_db):
    return bundled_db


@pytest.fixture
def client(web_db):
    return web_client(web_db, "analyst")


def test_health(client):
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json == {
        "status": "ok",
        "store": "reachable",
        "incidents": 17935,
        "latest_period": "2019-09",
    }


def test_map_page_defaults_to_latest_period_and_uses_only_local_assets(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.data.decode()
    assert "2019-09" in html and "Ranked hotspots" in html
    assert not re.findall(r"(?:src|href)=[\"']https?://", html), (
        "a CDN or remote asset is referenced"
    )
    assert (
        "/vendor/leaflet/leaflet.js" in html
        and "/vendor/markercluster/leaflet.markercluster.js" in html
    )
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/vendor/leaflet/../../package.json").status_code == 404


def test_tiles_are_configurable(web_db):
    with_tiles = web_client(web_db, "viewer", TILES="https://tile.example.org/{z}/{x}/{y}.png")
    html = with_tiles.get("/").data.decode()
    assert "https://tile.example.org/{z}/{x}/{y}.png" in html
    from hotspots.maps import OSM_TILES

    default = web_client(web_db, "viewer", TILES=OSM_TILES).get("/").data.decode()
    assert "tile.openstreetmap.org" in default and "OpenStreetMap" in default


def test_twelve_month_district_page_stays_light(client):
    page = client.get("/?from=2017-02&to=2018-01&group=asb")
    assert page.status_code == 200
    assert len(page.data) < 1_500_000


def test_api_hotspots_match_the_page_table(client):
    args = "area=Hucknall&group=violence&from=2017-10&to=2017-12"
    collection = client.get(f"/api/hotspots?{args}").json
    assert collection["type"] == "FeatureCollection"
    assert collection["properties"]["area"] == "Hucknall"
    ranks = [f["properties"]["rank"] for f in collection["features"]]
    assert ranks == list(range(1, len(ranks) + 1))
    html = client.get(f"/?{args}&period=custom").data.decode()
    table = html.split('id="hotspot-table"')[1].split("</table>")[0]
    assert table.count("<tr>") - 1 == len(ranks)
    first = collection["features"][0]["properties"]["top_streets"].split("; ")[0]
    assert first in table


def test_api_wards_counts_rates_and_change(client):
    answer = client.get("/api/wards?group=asb&period=2017-12").json
    assert answer["period"] == "2017-12" and answer["previous_period"] == "2017-11"
    wards = {row["ward_code"]: row for row in answer["wards"]}
    assert len(wards) == 23
    row = wards["E05010679"]
    assert row["rate_per_1000"] == pytest.approx(row["incidents"] / 10570 * 1000, abs=0.01)
    assert sum(r["incidents"] for r in wards.values()) == answer["totals"]["incidents"] == 310


def test_api_incidents_geojson_and_csv(client):
    collection = client.get("/api/incidents?group=asb&period=2017-12&area=Selston").json
    assert collection["features"] and all(
        f["geometry"]["type"] == "Point" for f in collection["features"]
    )
    csv = client.get("/api/incidents?group=asb&period=2017-12&format=csv")
    assert csv.mimetype == "text/csv"
    table = pd.read_csv(io.StringIO(csv.data.decode()))
    assert len(table) == 310 and {"occurred", "category", "location", "lon", "lat"} <= set(
        table.columns
    )


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ("area=Atlantis", "area"),
        ("group=burglaries", "group"),
        ("from=2017-13", "from"),
        ("method=magic", "method"),
        ("coverage=lots", "coverage"),
        ("coverage=0.9", "coverage"),
        ("format=xml", "format"),
    ],
)
def test_bad_parameters_get_400_naming_them(client, args, parameter):
    endpoint = "/api/incidents" if parameter == "format" else "/api/hotspots"
    answer = client.get(f"{endpoint}?{args}")
    assert answer.status_code == 400
    assert answer.json["parameter"] == parameter and answer.json["error"]


def test_bad_parameter_on_the_page_is_a_sentence(client):
    page = client.get("/?area=Atlantis")
    assert page.status_code == 400
    assert "no neighbourhood area called" in page.data.decode()


def test_dated_data_is_mapped_by_iso_week(tmp_path, pack):
    """Council exports carry dates (generated here: police.uk has none), so periods are weeks."""
    from hotspots.ingest.mapping import ColumnMapping
    from tests.conftest import POLICEUK_FIXTURES

    rows = pd.read_csv(POLICEUK_FIXTURES / "2017-12-ashfield-sample.csv", dtype=str)
    days = [f"2017-12-{1 + (i % 20):02d} 2{i % 4}:10" for i in range(len(rows))]  # 1–20 December
    export = pd.DataFrame(
        {"When": days, "Type": "Noise", "Lat": rows["Latitude"], "Lon": rows["Longitude"]}
    )
    path = tmp_path / "council.csv"
    export.to_csv(path, index=False)
    db = tmp_path / "dated.sqlite"
    with Store(db) as store:
        mapping = ColumnMapping(
            {"datetime": "When", "category": "Type", "lat": "Lat", "lon": "Lon"}
        )
        import_paths(store, [path], pack, mapping=mapping)
    client = web_client(db, "viewer")
    html = client.get("/?group=noise").data.decode()
    # The latest complete ISO week in the data is 2017-W50 (11–17 December).
    assert "2017-12-11 to 2017-12-17" in html
    assert '<option value="2017-W50"' in html and '<option value="2017-W48"' in html
    answer = client.get("/api/wards?group=noise&period=2017-W49").json
    assert (
        answer["period"] == "2017-12-04 to 2017-12-10"
        and answer["previous_period"] == "2017-11-27 to 2017-12-03"
    )
    expected = sum(1 for d in days if "2017-12-04" <= d[:10] <= "2017-12-10")
    assert answer["totals"]["incidents"] == expected


def test_security_headers_and_script_nonces(client, web_db):
    answer = client.get("/?group=asb&period=2017-12")
    policy = answer.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert (
        "default-src 'self'" in policy
        and "frame-ancestors 'none'" in policy
        and "object-src 'none'" in policy
    )
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    html = answer.data.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline, "the map has inline scripts"
    for attributes in inline:
        assert f'nonce="{nonce}"' in attributes or 'type="application/json"' in attributes
    assert (
        client.get("/?group=asb&period=2017-12").headers["Content-Security-Policy"] != policy
    )  # per request
    from hotspots.maps import OSM_TILES

    with_tiles = web_client(web_db, None, TILES=OSM_TILES).get("/health")
    assert (
        "img-src 'self' data: https://tile.openstreetmap.org"
        in with_tiles.headers["Content-Security-Policy"]
    )


def test_map_zooms_to_the_chosen_area(client, pack):
    from hotspots.geocode import bng_to_lonlat
    from hotspots.methods import StudyArea

    html = client.get(
        "/?group=asb&period=2017-12&area=Selston, Jacksdale %26 Underwood"
    ).data.decode()
    minx, miny, maxx, maxy = StudyArea.from_pack(
        pack, "Selston, Jacksdale & Underwood"
    ).geometry.bounds
    lon, lat = bng_to_lonlat([minx, maxx], [miny, maxy])
    bounds = re.search(r"fitBounds\(\s*\[\[([^\]]+)\],\s*\[([^\]]+)\]\]", html)
    south_west = [float(v) for v in bounds.group(1).split(",")]
    north_east = [float(v) for v in bounds.group(2).split(",")]
    assert south_west == pytest.approx([lat[0], lon[0]], abs=1e-6)
    assert north_east == pytest.approx([lat[1], lon[1]], abs=1e-6)


def test_errors_are_sentences_for_people_and_json_for_the_api(web_db):
    from hotspots.web import create_app
    from tests.conftest import sign_in

    app = create_app({"DB_PATH": str(web_db), "TILES": None})

    def broken():
        raise RuntimeError("internal detail that must not leak")

    app.add_url_rule("/broken", "broken", broken)
    app.add_url_rule("/api/broken", "api_broken", broken)
    client = app.test_client()
    sign_in(client, "viewer")
    page = client.get("/broken")
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Something went wrong on the server" in page.text
    assert "internal detail" not in page.text and "Traceback" not in page.text
    api = client.get("/api/broken")
    assert api.status_code == 500 and "Something went wrong" in api.json["error"]
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "There is no such page here." in missing.text
    assert client.get("/api/no-such-thing").json == {"error": "There is no such page here."}


def test_an_empty_store_says_what_to_do(tmp_path):
    empty = tmp_path / "empty.sqlite"
    analyst = web_client(empty, "analyst")
    for path in ("/", "/analyst", "/report", "/tasking?area=Hucknall"):
        page = analyst.get(path)
        assert page.status_code == 200, path
        assert "No incidents yet" in page.text and 'href="/import"' in page.text, path
    assert analyst.get("/api/hotspots").json["error"].startswith("The store holds no incidents")
    assert analyst.get("/import").status_code == 200
    viewer = web_client(empty, "viewer")
    assert "Ask your analyst to import some." in viewer.get("/").text
    assert viewer.get("/health").json["incidents"] == 0
