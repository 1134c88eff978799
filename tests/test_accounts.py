"""Accounts and roles: sign-in everywhere but /health, roles, area restriction, throttling,
sessions, CSRF, user management (CLI and admin page) and the audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from hotspots.accounts import MAX_FAILURES, Accounts
from hotspots.config import secret_key
from hotspots.web import create_app
from tests.conftest import USERS, csrf, ensure_users, sign_in, web_client


@pytest.fixture
def app(bundled_copy):
    ensure_users(bundled_copy)
    return create_app({"DB_PATH": str(bundled_copy), "TILES": None, "TESTING": True})


def _accounts(db) -> Accounts:
    return Accounts.for_store(db)


# Sample values for routes with arguments, so every route can be asked for.
_ARGS = {"table": "crime", "job_id": "0" * 32, "import_id": 1, "username": "viewer"}


def _routes(app, method: str) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if method not in rule.methods:
            continue
        args = {name: _ARGS.get(name, "leaflet") for name in rule.arguments}
        if rule.endpoint == "assets.vendor":
            args = {"package": "leaflet", "filename": "leaflet.js"}
        if rule.endpoint == "static":
            args = {"filename": "app.css"}
        with app.test_request_context():
            from flask import url_for

            paths.append((rule.endpoint, url_for(rule.endpoint, **args)))
    return paths


def test_nothing_but_health_answers_without_signing_in(app):
    client = app.test_client()
    public = {"api.health", "auth.login", "static", "assets.vendor"}
    routes = _routes(app, "GET")
    assert len(routes) >= 20
    for endpoint, path in routes:
        answer = client.get(path)
        if endpoint in public:
            assert answer.status_code == 200, path
        elif path.startswith("/api/"):
            assert answer.status_code == 401 and "Sign in" in answer.json["error"], path
        else:
            assert answer.status_code == 302, path
            assert answer.headers["Location"].startswith("/login?next="), path
    # Nor does any form, even with a valid CSRF token.
    client.get("/login")
    for _endpoint, path in _routes(app, "POST"):
        if path in ("/login", "/logout"):
            continue
        answer = client.post(path, data={"csrf_token": csrf(client)})
        assert answer.status_code == 401, path


def test_signing_in_goes_back_to_the_page_asked_for(app):
    client = app.test_client()
    target = client.get("/tasking?area=Hucknall&group=asb&period=2017-12").headers["Location"]
    page = client.get(target).data.decode()
    assert 'value="/tasking?area=Hucknall&amp;group=asb&amp;period=2017-12"' in page
    token = csrf(client)
    answer = client.post(
        "/login",
        data={
            "username": "viewer",
            "password": USERS["viewer"][1],
            "csrf_token": token,
            "next": "/tasking?area=Hucknall&group=asb&period=2017-12",
        },
    )
    assert answer.headers["Location"] == "/tasking?area=Hucknall&group=asb&period=2017-12"
    # Never to another site.
    client.post("/logout", data={"csrf_token": csrf(client)})
    client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": "viewer",
            "password": USERS["viewer"][1],
            "csrf_token": csrf(client),
            "next": "//evil.example/",
        },
    )
    assert answer.headers["Location"] == "/"


def test_wrong_password_and_unknown_user_get_the_same_answer(app):
    client = app.test_client()
    wrong = sign_in(client, "viewer", "not-the-password")
    unknown = sign_in(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 200
    assert "Wrong username or password." in wrong.data.decode()
    assert "Wrong username or password." in unknown.data.decode()
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("user", "allowed", "refused"),
    [
        (
            "viewer",
            ["/", "/tasking?area=Hucknall&period=2017-12", "/api/hotspots?period=2017-12"],
            [
                "/analyst",
                "/report",
                "/import",
                "/admin/users",
                "/admin/audit",
                "/api/incidents?format=csv&period=2017-12",
            ],
        ),
        (
            "analyst",
            ["/analyst", "/report", "/import", "/api/incidents?format=csv&period=2017-12"],
            ["/admin/users", "/admin/audit", "/admin/audit.csv"],
        ),
        ("admin", ["/admin/users", "/admin/audit", "/admin/audit.csv", "/import"], []),
    ],
)
def test_roles(bundled_copy, user, allowed, refused):
    client = web_client(bundled_copy, user)
    for path in allowed:
        assert client.get(path).status_code == 200, path
    for path in refused:
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "role" in answer.data.decode()


def test_pages_link_only_what_the_role_may_open(bundled_copy):
    viewer = web_client(bundled_copy, "viewer").get("/?period=2017-12").data.decode()
    assert "/analyst" not in viewer.split("</header>")[0] and "/admin/" not in viewer
    admin = web_client(bundled_copy, "admin").get("/?period=2017-12").data.decode()
    assert "/admin/users" in admin and "/import" in admin


def test_a_viewer_restricted_to_an_area_sees_only_that_area(bundled_copy):
    client = web_client(bundled_copy, "hucknall")
    page = client.get("/?group=asb&period=2017-12").data.decode()
    assert "Hucknall" in page.split("</header>")[0]  # signed in as … (viewer: Hucknall)
    assert "Whole district" not in page and "Kirkby-in-Ashfield" not in page
    wards = client.get("/api/wards?group=asb&period=2017-12").json
    assert wards["wards"] and {w["area"] for w in wards["wards"]} == {"Hucknall"}
    hotspots = client.get("/api/hotspots?group=asb&period=2017-12").json
    assert hotspots["properties"]["area"] == "Hucknall"
    assert client.get("/?area=Hucknall North&period=2017-12").status_code == 200  # its ward
    for path in (
        "/?area=Kirkby-in-Ashfield",
        "/?area=Kirkby Cross %26 Portland",  # a ward elsewhere
        "/api/incidents?area=Sutton-in-Ashfield&period=2017-12",
        "/tasking?area=Sutton-in-Ashfield&group=asb&period=2017-12",
    ):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "Hucknall only" in answer.data.decode()
    tasking = client.get("/tasking?group=asb&period=2017-12").data.decode()
    assert "HUC-ASB-" in tasking and "SUT-ASB-" not in tasking


def test_passwords_are_hashed_and_cookies_are_signed_httponly_samesite(app, bundled_copy):
    with _accounts(bundled_copy) as accounts:
        stored = accounts.conn.execute(
            "SELECT password_hash FROM users WHERE username = 'viewer'"
        ).fetchone()[0]
    assert USERS["viewer"][1] not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    client = app.test_client()
    answer = sign_in(client, "viewer")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("hotspots_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # A cookie signed with another key is not a session.
    other = create_app(
        {"DB_PATH": str(bundled_copy), "TILES": None, "SECRET_KEY": "another key entirely"}
    ).test_client()
    other.set_cookie("hotspots_session", cookie.split(";")[0].split("=", 1)[1])
    assert other.get("/").status_code == 302


def test_secret_key_from_environment_or_generated_once(tmp_path):
    instance = tmp_path / "instance"
    assert secret_key(instance, {"HOTSPOTS_SECRET_KEY": "from-env"}) == "from-env"
    assert not (instance / "config.toml").exists()
    first = secret_key(instance, {})
    assert len(first) == 64 and (instance / "config.toml").stat().st_mode & 0o077 == 0
    assert secret_key(instance, {}) == first  # kept, so sessions survive a restart


def test_sign_in_is_refused_after_five_failures(app, bundled_copy):
    client = app.test_client()
    for _ in range(MAX_FAILURES):
        failed = sign_in(client, "viewer", "wrong-password!")
        assert failed.status_code == 200 and "Wrong username or password." in failed.data.decode()
    refused = sign_in(client, "viewer")  # even the right password, for now
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.data.decode()
    assert "minutes" in refused.data.decode()
    # Other accounts are not locked by someone guessing at this one.
    assert sign_in(app.test_client(), "analyst").status_code == 302
    # Once the window has passed, the right password works again.
    with _accounts(bundled_copy) as accounts:
        earlier = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)).isoformat(timespec="seconds")
        accounts.conn.execute(
            "UPDATE audit_log SET at = ? WHERE username = 'viewer' AND action LIKE 'login_%'",
            (earlier,),
        )
    assert sign_in(app.test_client(), "viewer").status_code == 302


def test_reset_password_and_disable_end_open_sessions(app, bundled_copy):
    client = app.test_client()
    sign_in(client, "viewer")
    assert client.get("/").status_code == 200
    with _accounts(bundled_copy) as accounts:
        accounts.reset_password("viewer", "a-brand-new-password")
    assert client.get("/").status_code == 302
    assert sign_in(client, "viewer", "a-brand-new-password").status_code == 302
    with _accounts(bundled_copy) as accounts:
        accounts.set_disabled("viewer", True)
    assert client.get("/").status_code == 302
    assert "Wrong username or password." in sign_in(client, "viewer", "a-brand-new-password").text


def test_every_form_needs_the_csrf_token(app):
    client = app.test_client()
    assert sign_in(client, "admin").status_code == 302
    posts = _routes(app, "POST")
    assert {e for e, _ in posts} >= {
        "auth.login",
        "auth.logout",
        "analyst.save_profile",
        "analyst.revert_profile",
        "report.set_targets",
        "imports.upload",
        "admin.add_user",
        "admin.update_user",
        "admin.disable_user",
        "admin.reset_password",
    }
    for _endpoint, path in posts:
        for token in (None, "forged-token"):
            data = {"csrf_token": token} if token else {}
            answer = client.post(path, data=data)
            assert answer.status_code == 400, path
            assert "did not come from this site" in answer.data.decode()
    assert client.get("/").status_code == 200  # still signed in: logout was refused too


def test_user_cli(run_cli, db_path):
    code, out, err = run_cli("user", "add", "jo.bloggs", "--role", "viewer", "--area", "Hucknall")
    assert code == 0, err
    password = out.split("Password (shown once): ")[1].split()[0]
    assert len(password) >= 16
    code, out, err = run_cli("user", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows == [
        {
            "username": "jo.bloggs",
            "role": "viewer",
            "areas": "Hucknall",
            "status": "active",
            "created": rows[0]["created"],
        }
    ]
    code, out, err = run_cli("user", "add", "x", "--area", "Atlantis")
    assert code == 2 and "Atlantis" in err
    code, out, err = run_cli("user", "add", "jo.bloggs")
    assert code == 2 and "already exists" in err
    code, out, err = run_cli("user", "add", "ana", "--role", "analyst", "--area", "Hucknall")
    assert code == 2 and "Only viewers can be limited to some areas" in err
    code, out, err = run_cli("user", "add", "short", "--password", "tiny")
    assert code == 2 and "at least 10 characters" in err
    code, out, err = run_cli("user", "reset-password", "jo.bloggs", "--password", "another-one-1")
    assert code == 0 and "shown once" not in out
    code, out, err = run_cli("user", "disable", "jo.bloggs")
    assert code == 0
    with Accounts.for_store(db_path) as accounts:
        assert accounts.authenticate("jo.bloggs", "another-one-1") is None
        actions = [line["action"] for line in accounts.audit()]
    assert actions[:4] == ["login_failed", "user_disable", "user_reset_password", "user_add"]
    code, out, err = run_cli("user", "disable", "nobody")
    assert code == 2 and "no user called 'nobody'" in err


def test_admin_page_manages_users_and_audit_log_records_it(app, bundled_copy):
    client = app.test_client()
    sign_in(client, "admin")
    page = client.post(
        "/admin/users",
        data={
            "username": "pc.smith",
            "role": "viewer",
            "areas": ["Hucknall"],
            "csrf_token": csrf(client),
        },
    ).data.decode()
    assert "Added pc.smith as viewer." in page and 'id="new-password"' in page
    password = page.split('class="secret">')[1].split("<")[0]
    assert sign_in(app.test_client(), "pc.smith", password).status_code == 302
    page = client.post(
        "/admin/users/pc.smith/reset-password", data={"csrf_token": csrf(client)}
    ).data.decode()
    new_password = page.split('class="secret">')[1].split("<")[0]
    assert new_password != password
    client.post("/admin/users/pc.smith/disable", data={"disabled": "1", "csrf_token": csrf(client)})
    assert (
        "Wrong username or password." in sign_in(app.test_client(), "pc.smith", new_password).text
    )
    answer = client.post(
        "/admin/users/admin/disable", data={"disabled": "1", "csrf_token": csrf(client)}
    )
    assert answer.status_code == 400 and "last active admin" in answer.data.decode()
    bad = client.post(
        "/admin/users", data={"username": "x y", "role": "viewer", "csrf_token": csrf(client)}
    )
    assert bad.status_code == 400 and "Usernames are" in bad.data.decode()

    audit = client.get("/admin/audit?user=pc.smith").data.decode()
    for words in ("signed in", "reset a password", "disabled a user", "sign-in failed"):
        assert words in audit
    exported = client.get("/admin/audit.csv").data.decode()
    lines = list(csv.DictReader(io.StringIO(exported)))
    assert {"id", "at_utc", "username", "action", "detail", "client"} <= set(lines[0])
    assert any(
        line["username"] == "admin"
        and line["action"] == "user_add"
        and "pc.smith" in line["detail"]
        for line in lines
    )
    assert all(line["at_utc"].startswith(str(dt.date.today().year)) for line in lines[:5])


def test_changes_and_exports_are_audited(bundled_copy):
    client = web_client(bundled_copy, "analyst")
    client.get("/api/incidents?group=asb&period=2017-12&format=csv")
    client.get("/report/crime.csv?from=2017-10&to=2017-12")
    client.post(
        "/analyst/profile",
        data={
            "group": "asb",
            "period": "2017-12",
            "method": "grid",
            "name": "ASB grid",
            "note": "audited change",
            "csrf_token": csrf(client),
        },
    )
    client.post("/logout", data={"csrf_token": csrf(client)})
    with _accounts(bundled_copy) as accounts:
        lines = accounts.audit(username="analyst")
    actions = [line["action"] for line in lines]
    assert actions[:5] == ["logout", "profile_save", "export", "export", "login"]
    assert "incidents-asb-2017-12.csv" in lines[3]["detail"]
    assert all(line["client"] == "127.0.0.1" and line["at"] for line in lines)
    # The profile remembers who saved it.
    from hotspots import profiles
    from hotspots.store import Store

    with Store(bundled_copy) as store:
        assert profiles.current(store, "asb").saved_by == "analyst"


def test_audit_csv_cells_cannot_become_spreadsheet_formulas(tmp_path):
    with Accounts(tmp_path / "a.sqlite") as accounts:
        accounts.record("=cmd|' /C calc'!A0", "login_failed", "+1", "-x")
        row = list(csv.reader(io.StringIO(accounts.audit_csv())))[1]
    assert row[2].startswith("'=") and row[4] == "'+1" and row[5] == "'-x"


def test_users_change_their_own_password(app, bundled_copy):
    client, elsewhere = app.test_client(), app.test_client()
    sign_in(client, "viewer")
    sign_in(elsewhere, "viewer")
    form = {
        "current_password": "not it at all",
        "new_password": "my-own-new-password",
        "confirm_password": "my-own-new-password",
    }
    wrong = client.post("/account/password", data={**form, "csrf_token": csrf(client)})
    assert wrong.status_code == 400 and "current password is not right" in wrong.text
    mismatch = {**form, "current_password": USERS["viewer"][1], "confirm_password": "different-1"}
    answer = client.post("/account/password", data={**mismatch, "csrf_token": csrf(client)})
    assert answer.status_code == 400 and "differ" in answer.text
    form["current_password"] = USERS["viewer"][1]
    answer = client.post("/account/password", data={**form, "csrf_token": csrf(client)})
    assert answer.status_code == 200 and "Password changed." in answer.text
    assert client.get("/").status_code == 200  # this session goes on
    assert elsewhere.get("/").status_code == 302  # the other one has ended
    assert sign_in(app.test_client(), "viewer", "my-own-new-password").status_code == 302
    with _accounts(bundled_copy) as accounts:
        actions = [line["action"] for line in accounts.audit(username="viewer")]
    assert "password_change" in actions and "password_change_failed" in actions
