"""Profiles: saved settings per group, used by the maps and the tasking packs, with history."""

from __future__ import annotations

import pytest

from hotspots import profiles
from hotspots.config import BUILTIN_GROUPS
from hotspots.errors import HotspotsError
from hotspots.ingest.categories import CategoryGroups
from hotspots.periods import parse_period
from hotspots.store import Store
from hotspots.tasking import build_pack
from tests.conftest import csrf, web_client

GROUPS = CategoryGroups.load(BUILTIN_GROUPS)


def test_history_and_revert(bundled_copy):
    with Store(bundled_copy) as store:
        first = profiles.save(
            store,
            "asb",
            "ASB — default",
            "kde",
            {"bandwidth": "400"},
            0.02,
            "Start point",
            "analyst1",
        )
        second = profiles.save(
            store,
            "asb",
            "ASB — default",
            "gistar",
            {"confidence": "99"},
            0.03,
            "Stricter",
            "analyst2",
        )
        assert profiles.current(store, "asb") == second
        back = profiles.revert(
            store, "asb", first.version, "Gi* too sparse for Selston", "analyst1"
        )
        versions = profiles.history(store, "asb")
    assert [p.method for p in versions] == ["kde", "gistar", "kde"]
    assert back.params == {"bandwidth": 400.0} and back.coverage == 0.02
    assert back.note == f"Reverted to version {first.version}: Gi* too sparse for Selston"
    assert [p.saved_by for p in versions] == ["analyst1", "analyst2", "analyst1"]
    assert all(p.saved_at for p in versions)


def test_a_profile_needs_a_note_and_valid_parameters(bundled_copy):
    with Store(bundled_copy) as store:
        with pytest.raises(HotspotsError, match="needs a note"):
            profiles.save(store, "asb", "ASB — default", "kde", {}, 0.02, "  ")
        with pytest.raises(HotspotsError, match="bandwidth must be at least"):
            profiles.save(store, "asb", "ASB — default", "kde", {"bandwidth": 1}, 0.02, "why")
        with pytest.raises(HotspotsError, match="no profile version 99"):
            profiles.revert(store, "asb", 99, "why")


def test_saved_profile_is_used_by_the_map_page_and_tasking(bundled_copy, pack):
    with Store(bundled_copy) as store:
        profiles.save(
            store,
            "violence",
            "Violence — NTE",
            "gistar",
            {"cell_size": 200},
            0.02,
            "Night-time economy",
        )
        tasking = build_pack(
            store, pack, GROUPS, "violence", parse_period("2017-12"), ["Hucknall"], save=False
        )
    assert tasking.method == "gistar" and tasking.params == {"cell_size": 200.0}
    client = web_client(bundled_copy, "analyst")
    page = client.get("/?group=violence&period=2017-12").data.decode()
    assert "Getis-Ord Gi* (FDR)</option>" in page and 'value="gistar" selected' in page
    collection = client.get("/api/hotspots?group=violence&period=2017-12").json
    assert collection["properties"]["method"] == "gistar"


def test_profile_cli(run_cli, bundled_copy):
    code, out, err = run_cli(
        "profile", "save", "--group", "asb", "--name", "ASB — default", "--method", "grid",
        "--param", "cell_size=200", "--note", "Matches the beat map", "--by", "jo", "--no-score", db=bundled_copy,
    )  # fmt: skip
    assert code == 0, err
    assert "Saved version" in out and "grid (cell_size=200.0)" in out
    code, out, err = run_cli("profile", "list", db=bundled_copy)
    assert "ASB — default: grid" in out and "jo" in out
    code, out, err = run_cli(
        "profile",
        "save",
        "--group",
        "asb",
        "--name",
        "x",
        "--method",
        "kde",
        "--note",
        "",
        "--no-score",
        db=bundled_copy,
    )
    assert code == 2 and "needs a note" in err


def test_workbench_saves_a_profile_and_compares(bundled_copy):
    from urllib.parse import quote

    client = web_client(bundled_copy, "analyst")
    form = {
        "group": "asb",
        "from": "2017-10",
        "to": "2017-12",
        "method": "kde",
        "param.bandwidth": "350",
        "coverage": "0.02",
        "name": "ASB — default",
        "note": "Best PEI in the workbench",
        "csrf_token": csrf(client),
    }
    answer = client.post("/analyst/profile", data=form)
    assert answer.status_code == 302 and "Saved+version" in answer.headers["Location"]
    with Store(bundled_copy) as store:
        saved = profiles.current(store, "asb")
    assert (
        saved.method == "kde" and saved.params == {"bandwidth": 350.0} and saved.scores["pai"] > 1
    )
    missing_note = client.post("/analyst/profile", data={**form, "note": ""})
    assert missing_note.status_code == 400 and missing_note.json["parameter"] == "note"
    configs = [
        "group=asb&period=2017-12&method=kde",
        "group=asb&period=2017-12&method=grid&param.cell_size=150",
    ]
    page = client.get("/analyst/compare?" + "&".join("c=" + quote(c) for c in configs))
    assert page.status_code == 200
    html = page.data.decode()
    assert html.count('class="small-map"') == 2 and "cell_size=150" in html
    assert client.get("/analyst/compare?c=" + quote(configs[0])).status_code == 400


def test_workbench_shows_history_and_reverts(bundled_copy):
    client = web_client(bundled_copy, "analyst")
    with Store(bundled_copy) as store:
        first = profiles.save(store, "asb", "ASB — default", "kde", {}, 0.02, "First")
        profiles.save(store, "asb", "ASB — default", "grid", {}, 0.02, "Second")
    page = client.get("/analyst?group=asb").data.decode()
    assert 'id="profile-history"' in page and "First" in page and "Second" in page
    answer = client.post(
        "/analyst/profile/revert",
        data={"group": "asb", "version": str(first.version), "csrf_token": csrf(client)},
    )
    assert answer.status_code == 302
    with Store(bundled_copy) as store:
        assert profiles.current(store, "asb").method == "kde"
    assert (
        client.post(
            "/analyst/profile/revert",
            data={"group": "asb", "version": "x", "csrf_token": csrf(client)},
        ).status_code
        == 400
    )
