"""Readers keep working while an import runs (SQLite WAL), and never see half a file."""

from __future__ import annotations

import json
import threading
import time

import pandas as pd
from werkzeug.serving import make_server

from hotspots.importer import import_paths
from hotspots.store import Store
from hotspots.web import create_app
from tests.conftest import BUNDLED_MONTHS, http_sign_in


def test_map_requests_during_an_import(bundled_copy, pack, tmp_path):
    # A big month generated from January 2018's rows (police.uk has no such month here):
    # 45 copies under new Crime IDs, dated February 2018.
    january = pd.read_csv(
        BUNDLED_MONTHS / "ashfield" / "2018-01-ashfield-street.csv",
        dtype=str,
        keep_default_na=False,
    )
    copies = []
    for k in range(45):
        copy = january.copy()
        copy["Month"] = "2018-02"
        has_id = copy["Crime ID"] != ""
        copy.loc[has_id, "Crime ID"] = [f"{k:04d}{i:060x}" for i in range(has_id.sum())]
        copies.append(copy)
    big = pd.concat(copies, ignore_index=True)
    path = tmp_path / "2018-02-generated-street.csv"
    big.to_csv(path, index=False)
    expected = int((big["Crime type"] == "Anti-social behaviour").sum())

    app = create_app({"DB_PATH": str(bundled_copy), "TILES": None})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    opener = http_sign_in(base, "viewer")

    done = threading.Event()
    failures: list[str] = []

    def run_import():
        try:
            with Store(bundled_copy) as store:
                import_paths(store, [path], pack)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"import: {exc!r}")
        finally:
            done.set()

    seen: list[int] = []
    after: list[int] = []  # answers to requests sent once the import had committed
    statuses: list[int] = []

    def read_loop():
        while True:
            committed = done.is_set()
            for url in ("/api/wards?group=asb&period=2018-02", "/?group=asb&period=2018-01"):
                try:
                    with opener.open(base + url, timeout=30) as response:
                        statuses.append(response.status)
                        if url.startswith("/api/wards"):
                            total = json.loads(response.read())["totals"]["incidents"]
                            (after if committed else seen).append(total)
                        else:
                            response.read()
                except Exception as exc:  # noqa: BLE001 - any failure fails the test
                    failures.append(f"{url}: {exc!r}")
            if committed:
                break

    readers = [threading.Thread(target=read_loop) for _ in range(3)]
    importer = threading.Thread(target=run_import)
    for reader in readers:
        reader.start()
    deadline = time.time() + 60
    while not seen and not failures and time.time() < deadline:  # readers are up before the import
        time.sleep(0.05)
    importer.start()
    importer.join(timeout=180)
    for reader in readers:
        reader.join(timeout=60)
    httpd.shutdown()

    assert failures == []
    assert statuses and set(statuses) == {200}
    # Every answer saw either none of the new month or all of it: never a half-imported file.
    assert set(seen) <= {0, expected}
    assert after and set(after) == {expected}, after
    assert 0 in seen, f"no request ran before the import committed: {seen}"


def test_views_stay_warm_through_imports_of_other_months(bundled_copy, pack, tmp_path):
    """An import refreshes exactly the maps whose months it adds to (generated months)."""
    from hotspots.config import BUILTIN_GROUPS
    from hotspots.dashboard import map_view, parse_query
    from hotspots.ingest.categories import CategoryGroups

    groups = CategoryGroups.load(BUILTIN_GROUPS)
    january = pd.read_csv(
        BUNDLED_MONTHS / "ashfield" / "2018-01-ashfield-street.csv",
        dtype=str,
        keep_default_na=False,
    )

    def month_file(month: str, prefix: str):
        rows = january.copy()
        rows["Month"] = month
        has_id = rows["Crime ID"] != ""
        rows.loc[has_id, "Crime ID"] = [f"{prefix}{i:060x}" for i in range(has_id.sum())]
        path = tmp_path / f"{month}-{prefix}-street.csv"
        rows.to_csv(path, index=False)
        return path

    with Store(bundled_copy) as store:
        december = parse_query({"group": "asb", "period": "2017-12"}, store, pack, groups)
        # Violence: police.uk ASB rows have no Crime ID, so re-dated copies of them are repeats.
        jan = parse_query({"group": "violence", "period": "2018-01"}, store, pack, groups)
        december_view = map_view(store, pack, groups, december)
        january_view = map_view(store, pack, groups, jan)
        import_paths(store, [month_file("2019-10", "aa")], pack)  # a new latest month
        assert map_view(store, pack, groups, december) is december_view
        assert map_view(store, pack, groups, jan) is january_view
        import_paths(store, [month_file("2018-01", "bb")], pack)  # more of January
        assert map_view(store, pack, groups, december) is december_view
        refreshed = map_view(store, pack, groups, jan)
        assert refreshed is not january_view
        assert refreshed.totals["incidents"] == 2 * january_view.totals["incidents"]
