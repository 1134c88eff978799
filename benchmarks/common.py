"""What the web benchmarks share: a demo store with an account, a free port, a signed-in client."""

from __future__ import annotations

import http.cookiejar
import re
import socket
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_USER, BENCH_PASSWORD = "bench-analyst", "bench-password-1"


def demo_store(folder: Path) -> Path:
    """A store in ``folder`` holding the bundled Ashfield months, with an analyst account."""
    from hotspots.accounts import Accounts
    from hotspots.boundaries import load_pack
    from hotspots.config import DEFAULT_PACK
    from hotspots.importer import import_paths
    from hotspots.store import Store

    db = folder / "store.sqlite"
    with Store(db) as store:
        import_paths(store, [ROOT / "data" / "policeuk"], load_pack(DEFAULT_PACK))
    with Accounts.for_store(db) as accounts:
        accounts.add(BENCH_USER, "analyst", BENCH_PASSWORD)
    return db


def csrf_token_in(html: str) -> str:
    """The CSRF token a page's forms carry."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def signed_in_opener(base: str) -> urllib.request.OpenerDirector:
    """A urllib opener whose cookie jar holds a session signed in as the benchmark analyst."""
    return signed_in(base)[0]


def session_cookie(base: str) -> str:
    """A ``Cookie`` header value for a new session signed in as the benchmark analyst."""
    jar = signed_in(base)[1]
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def signed_in(base: str) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/login", timeout=60) as page:
        token = csrf_token_in(page.read().decode())
    form = {"username": BENCH_USER, "password": BENCH_PASSWORD, "csrf_token": token}
    with opener.open(base + "/login", urllib.parse.urlencode(form).encode(), timeout=60) as answer:
        if "/login" in answer.url:
            raise SystemExit("The benchmark could not sign in.")
    return opener, jar
