"""The strategic assessment against counts worked out by hand from the fixtures."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from hotspots.assessment import ASB_ROW, TOTAL_CRIME, strategic_assessment
from hotspots.config import BUILTIN_GROUPS
from hotspots.ingest.categories import CategoryGroups
from hotspots.periods import parse_period
from hotspots.store import Store

GROUPS = CategoryGroups.load(BUILTIN_GROUPS)


def test_crime_table_by_hand(fixture_db, pack):
    # December (44 rows) against November (21 rows), counted from tests/data/README.md's listing:
    # Dec: ASB 12, violence 11, criminal damage 6, other theft 5, vehicle 3, burglary 2,
    #      public order 2, robbery 1, shoplifting 1, theft from the person 1.
    # Nov: ASB 8, violence 6, vehicle 3, criminal damage 2, burglary 2.
    with Store(fixture_db) as store:
        store.set_report_target("Violence and sexual offences", "Reduce")
        a = strategic_assessment(store, pack, GROUPS, parse_period("2017-12"))
    table = a.crime.set_index("category")
    assert table.loc[
        "Violence and sexual offences", ["current", "previous", "change"]
    ].tolist() == [11, 6, 5]
    assert table.loc["Violence and sexual offences", "pct_change"] == pytest.approx(83.33)
    assert table.loc["Violence and sexual offences", "target"] == "Reduce"
    assert table.loc["Criminal damage and arson", "pct_change"] == pytest.approx(200.0)
    assert table.loc["Vehicle crime", "pct_change"] == 0.0
    assert pd.isna(table.loc["Other theft", "pct_change"])  # nothing before: no percentage
    assert table.loc[TOTAL_CRIME, ["current", "previous", "change"]].tolist() == [32, 13, 19]
    assert table.loc[TOTAL_CRIME, "pct_change"] == pytest.approx(146.15)
    assert table.loc[ASB_ROW, ["current", "previous"]].tolist() == [12, 8]
    assert table.loc[ASB_ROW, "pct_change"] == pytest.approx(50.0)
    assert list(a.crime["category"])[-2:] == [TOTAL_CRIME, ASB_ROW]
    assert "Anti-social behaviour" not in list(a.crime["category"])[:-1]
    assert a.warnings == []


def test_shares_rates_and_missing_months(fixture_db, pack):
    with Store(fixture_db) as store:
        a = strategic_assessment(store, pack, GROUPS, parse_period("2017-06", "2017-12"))
    areas = a.areas.set_index("area")
    # December: Hucknall North 16 crimes + 7 ASB; November: 13 crimes + 8 ASB (all in Hucknall).
    assert areas.loc["Hucknall", "crime"] == 16 + 13
    assert areas.loc["Hucknall", "asb"] == 7 + 8
    assert areas["crime_share_pct"].sum() == pytest.approx(100, abs=0.2)
    assert areas.loc["Hucknall", "crime_rate_per_1000"] == pytest.approx(
        29 / 34847 * 1000, abs=0.01
    )
    wards = a.wards.set_index("ward_code")
    assert wards.loc["E05010679", "asb_rate_per_1000"] == pytest.approx(15 / 10570 * 1000, abs=0.01)
    monthly = a.monthly.set_index("month")
    assert pd.isna(monthly.loc["2017-06", "asb"])  # no data that month: missing, not zero
    assert monthly.loc["2017-12", "asb"] == 12 and monthly.loc["2017-11", "total_crime"] == 13
    assert len(a.warnings) == 2
    assert "current period (2017-06 to 2017-12) has no data for 5 month(s)" in a.warnings[0]
    assert "previous period (2016-11 to 2017-05) has no data for 7 month(s)" in a.warnings[1]


def test_report_cli_csv_matches_table_and_exports(run_cli, bundled_copy, tmp_path):
    code, out, err = run_cli(
        "report", "--from", "2017-10", "--to", "2018-09", "--format", "csv", db=bundled_copy
    )
    assert code == 0, err
    assert "Warning: The current period (2017-10 to 2018-09) has no data for 8 month(s)" in err
    assert (
        "Warning: The previous period (2016-10 to 2017-09) has no data for 1 month(s): 2016-10"
        in err
    )
    cli_table = pd.read_csv(io.StringIO(out))
    zipped = tmp_path / "report.zip"
    code, out, err = run_cli(
        "report",
        "--from",
        "2017-10",
        "--to",
        "2018-09",
        "--format",
        "csv",
        "--out",
        zipped,
        db=bundled_copy,
    )
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(archive.namelist()) == ["areas.csv", "crime.csv", "monthly.csv", "wards.csv"]
        from_zip = pd.read_csv(io.BytesIO(archive.read("crime.csv")))
    pd.testing.assert_frame_equal(cli_table, from_zip)
    # And the web page shows the same numbers as the CLI's CSV.
    from tests.conftest import web_client

    client = web_client(bundled_copy, "analyst")
    web_csv = client.get("/report/crime.csv?from=2017-10&to=2018-09").data.decode()
    pd.testing.assert_frame_equal(cli_table, pd.read_csv(io.StringIO(web_csv)))
    page = client.get("/report?from=2017-10&to=2018-09").data.decode()
    total = cli_table.set_index("category").loc[TOTAL_CRIME]
    assert (
        f'<td class="num">{total["current"]}</td>' in page and "has no data for 8 month(s)" in page
    )


def test_report_target_option_is_kept(run_cli, bundled_copy):
    code, out, err = run_cli(
        "report", "--target", "Shoplifting=Reduce", "--format", "csv", db=bundled_copy
    )
    assert code == 0, err
    assert (
        pd.read_csv(io.StringIO(out)).set_index("category").loc["Shoplifting", "target"] == "Reduce"
    )
    code, out, err = run_cli("report", "--target", "Shoplifting=Ignore", db=bundled_copy)
    assert code == 2 and "must be CATEGORY=Reduce or CATEGORY=Monitor" in err


def test_targets_can_be_set_on_the_report_page(bundled_copy):
    from tests.conftest import csrf_from, web_client

    client = web_client(bundled_copy, "analyst")
    page = client.get("/report?from=2017-02&to=2018-01").data.decode()
    assert 'name="target.Shoplifting"' in page
    answer = client.post(
        "/report/targets",
        data={
            "from": "2017-02",
            "to": "2018-01",
            "target.Shoplifting": "Reduce",
            "target.Drugs": "Bogus",
            "csrf_token": csrf_from(page),
        },
    )
    assert answer.status_code == 302 and "from=2017-02" in answer.headers["Location"]
    table = pd.read_csv(
        io.StringIO(client.get("/report/crime.csv?from=2017-02&to=2018-01").data.decode())
    ).set_index("category")
    assert (
        table.loc["Shoplifting", "target"] == "Reduce" and table.loc["Drugs", "target"] == "Monitor"
    )
