"""Map page weight and server time, and API response times, for the whole district over 12 months.

Runs the real app under waitress on 127.0.0.1 with a temporary store holding the bundled
Ashfield data, then requests each URL: once cold (first computation) and 20 times warm.
"Server time" is the time to the last byte on loopback, so it includes HTTP overhead.

    python benchmarks/bench_web.py

Targets (district, 12 months, warm): page weight < 1.5 MB (HTML + JSON, assets excluded);
server time < 300 ms.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import demo_store, free_port, signed_in_opener

YEAR = "from=2017-02&to=2018-01&period=custom"
URLS = [
    ("map page, district, 12 months, asb", f"/?group=asb&{YEAR}"),
    ("map page, district, 12 months, violence", f"/?group=violence&{YEAR}"),
    ("map page, Hucknall, 1 month, asb", "/?group=asb&period=2017-12&area=Hucknall"),
    ("/api/hotspots, district, 12 months", f"/api/hotspots?group=asb&{YEAR}"),
    ("/api/wards, district, 12 months", f"/api/wards?group=asb&{YEAR}"),
    ("/api/incidents GeoJSON, district, 12 months", f"/api/incidents?group=asb&{YEAR}"),
    ("/api/incidents CSV, district, 12 months", f"/api/incidents?group=asb&{YEAR}&format=csv"),
    ("/health", "/health"),
]
# The analyst's preview after a parameter change: hotspots + a 6-month back-test, never cached
# twice for the same value here because each request changes the bandwidth.
PREVIEW = "/api/analyst/preview?group=asb&" + YEAR + "&method=kde&param.bandwidth={bandwidth}"


def fetch(opener, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with opener.open(url, timeout=60) as response:
        body = response.read()
    return time.perf_counter() - started, len(body)


def main() -> None:
    import waitress

    from hotspots.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        db = demo_store(Path(tmp))
        app = create_app({"DB_PATH": str(db), "TILES": None, "SECRET_KEY": "benchmark"})
        port = free_port()
        server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        opener = signed_in_opener(base)
        print(
            f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}"
        )
        print(
            f"{'request':<46} {'cold ms':>9} {'warm median ms':>15} {'warm p95 ms':>12} {'bytes':>10}"
        )
        for label, path in URLS:
            cold, size = fetch(opener, base + path)
            warm = sorted(fetch(opener, base + path)[0] for _ in range(20))
            p95 = warm[int(0.95 * (len(warm) - 1))]
            print(
                f"{label:<46} {cold * 1000:>9.0f} {statistics.median(warm) * 1000:>15.1f} {p95 * 1000:>12.1f} {size:>10,}"
            )
        timings = []
        for k in range(10):
            seconds, _ = fetch(opener, base + PREVIEW.format(bandwidth=300 + 25 * k))
            timings.append(seconds)
        print(
            f"{'analyst preview, parameter change (district-year)':<46} {timings[0] * 1000:>9.0f} "
            f"{statistics.median(timings) * 1000:>15.1f} {sorted(timings)[-1] * 1000:>12.1f}"
        )
        time.sleep(0.5)  # let the last answers finish before the server's sockets close
        server.close()


if __name__ == "__main__":
    main()
