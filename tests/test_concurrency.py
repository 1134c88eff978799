"""Readers keep working while an import runs (SQLite WAL), and never see half a file."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pandas as pd

from hotspots.importer import import_paths
from hotspots.store import Store
from tests.conftest import BUNDLED_MONTHS, http_sign_in, serving


def redated_january(
    month: str, copies: int, prefix: str, folder: Path
) -> tuple[Path, pd.DataFrame]:
    """January 2018's rows dated ``month``, ``copies`` times over, under new Crime IDs starting
    with ``prefix`` (generated: police.uk has no such file here); written to ``folder``."""
    january = pd.read_csv(
        BUNDLED_MONTHS / "ashfield" / "2018-01-ashfield-street.csv",
        dtype=str,
        keep_default_na=False,
    )
    frames = []
    for k in range(copies):
        copy = january.copy()
        copy["Month"] = month
        has_id = copy["Crime ID"] != ""
        copy.loc[has_id, "Crime ID"] = [f"{prefix}{k:04d}{i:060x}" for i in range(has_id.sum())]
        frames.append(copy)
    rows = pd.concat(frames, ignore_index=True)
    path = folder / f"{month}-{prefix}generated-street.csv"
    rows.to_csv(path, index=False)
    return path, rows


def test_map_requests_during_an_import(bundled_copy, pack, tmp_path):
    # A big month generated from January 2018's rows (police.uk has no such month here):
    # 45 copies under new Crime IDs, dated February 2018.
    path, big = redated_january("2018-02", 45, "", tmp_path)
    expected = int((big["Crime type"] == "Anti-social behaviour").sum())

    with serving(bundled_copy) as base:
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
        # The readers are up before the import starts.
        while not seen and not failures and time.time() < deadline:
            time.sleep(0.05)
        importer.start()
        importer.join(timeout=180)
        for reader in readers:
            reader.join(timeout=60)

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
    with Store(bundled_copy) as store:
        december = parse_query({"group": "asb", "period": "2017-12"}, store, pack, groups)
        # Violence: police.uk ASB rows have no Crime ID, so re-dated copies of them are repeats.
        jan = parse_query({"group": "violence", "period": "2018-01"}, store, pack, groups)
        december_view = map_view(store, pack, groups, december)
        january_view = map_view(store, pack, groups, jan)
        import_paths(
            store, [redated_january("2019-10", 1, "aa", tmp_path)[0]], pack
        )  # a new latest month
        assert map_view(store, pack, groups, december) is december_view
        assert map_view(store, pack, groups, jan) is january_view
        import_paths(
            store, [redated_january("2018-01", 1, "bb", tmp_path)[0]], pack
        )  # more of January
        assert map_view(store, pack, groups, december) is december_view
        refreshed = map_view(store, pack, groups, jan)
        assert refreshed is not january_view
        assert refreshed.totals["incidents"] == 2 * january_view.totals["incidents"]
