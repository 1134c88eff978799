"""Load: 50 signed-in clients for 60 s against the map page and the APIs while an import runs.

    python benchmarks/load.py [--clients 50] [--seconds 60] [--server-threads 8]

The server is the app under waitress, as ``hotspots serve`` runs it, in its own process on
127.0.0.1, on a temporary store holding the bundled Ashfield months. Each client signs in
with its own session, then requests without pause (no think time) a mix like a morning of
neighbourhood teams: the map page for an area, group and period (40%), /api/hotspots (25%),
/api/wards (20%) and /api/incidents (15%), over 5 areas × 2 groups × 4 periods.

Ten seconds in, ``hotspots import`` starts in another process with generated months (police.uk
has none beyond the bundled ones: copies of January 2018's rows under new Crime IDs, dated
2019-10 … 2020-02, about 12,000 rows a file). Each file it commits is a new latest month, so
the default map (a quarter of the requests ask for it) goes cold and is built again.

Reported: requests per second, p50/p95/p99 latency per kind of request and overall, errors
(any answer but 200, or no answer). Target: zero errors, map-page p95 < 1 s on 2 cores.
The clients share the machine's two cores with the server and the import, so the figures are
an upper bound on what a user on another machine would wait.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
from common import (
    ROOT,
    csrf_token_in,
    demo_store,
    free_port,
    session_cookie,
    signed_in_opener,
)

AREAS = ["", "Hucknall", "Sutton-in-Ashfield", "Kirkby-in-Ashfield", "Hucknall North"]
GROUPS = ["asb", "violence"]
# "" is the default: the latest month, which each imported month moves on.
PERIODS = ["", "period=2017-12", "period=2018-01", "period=custom&from=2017-02&to=2018-01"]
MIX = [("map page", 0.40, "/"), ("/api/hotspots", 0.25, "/api/hotspots"),
       ("/api/wards", 0.20, "/api/wards"), ("/api/incidents", 0.15, "/api/incidents")]  # fmt: skip

SERVER = """
import sys, waitress
from hotspots.web import create_app
app = create_app({"DB_PATH": sys.argv[1], "TILES": None, "SECRET_KEY": "load-benchmark"})
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=int(sys.argv[3]),
               ident="hotspots", connection_limit=200, channel_timeout=120)
"""


def generated_months(folder: Path, count: int) -> list[Path]:
    january = pd.read_csv(
        ROOT / "data/policeuk/ashfield/2018-01-ashfield-street.csv",
        dtype=str,
        keep_default_na=False,
    )
    paths = []
    for k in range(count):
        month = f"{2019 + (9 + k) // 12}-{(9 + k) % 12 + 1:02d}"  # 2019-10, 2019-11, …
        copies = []
        for c in range(11):
            copy = january.copy()
            copy["Month"] = month
            has_id = copy["Crime ID"] != ""
            copy.loc[has_id, "Crime ID"] = [f"{k:02d}{c:02d}{i:060x}" for i in range(has_id.sum())]
            copies.append(copy)
        path = folder / f"{month}-generated-street.csv"
        pd.concat(copies, ignore_index=True).to_csv(path, index=False)
        paths.append(path)
    return paths


def url_for_request(rng: random.Random) -> tuple[str, str]:
    label, path = rng.choices([(m[0], m[2]) for m in MIX], weights=[m[1] for m in MIX])[0]
    area = rng.choice(AREAS)
    period = rng.choice(PERIODS)
    query = f"group={rng.choice(GROUPS)}" + (f"&{period}" if period else "")
    query += f"&area={area}" if area else ""
    return label, f"{path}?{query.replace(' ', '%20')}"


def client(base: str, until: float, seed: int, results: list, errors: list) -> None:
    """One user: signs in, then asks and reads answers back to back on a kept-alive connection."""
    rng = random.Random(seed)
    try:
        cookie = session_cookie(base)
    except Exception as exc:  # noqa: BLE001 - counted as an error
        errors.append(("sign-in", repr(exc)))
        return
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    while time.time() < until:
        label, url = url_for_request(rng)
        started = time.perf_counter()
        try:
            connection.request("GET", url, headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            status = response.status
        except Exception as exc:  # noqa: BLE001 - any failure is an error
            errors.append((label, f"{url}: {exc!r}"))
            connection.close()
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            continue
        elapsed = time.perf_counter() - started
        if status != 200:
            errors.append((label, f"{url}: HTTP {status}"))
        results.append((label, elapsed, started))


def upload(base: str, months: list[Path], folder: Path) -> subprocess.CompletedProcess:
    """Upload the months as one zip through /import and wait until the import has finished."""
    import re
    import urllib.request
    import uuid
    import zipfile

    archive = folder / "months.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in months:
            out.write(path, f"{path.name[:7]}/{path.name}")
    opener = signed_in_opener(base)
    with opener.open(base + "/import", timeout=60) as page:
        token = csrf_token_in(page.read().decode())
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="months.zip"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + archive.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        base + "/import",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with opener.open(request, timeout=120) as answer:
        job = answer.url
    while True:
        with opener.open(job, timeout=60) as page:
            text = page.read().decode()
        if 'data-state="running"' not in text:
            state = re.search(r'data-state="(\w+)"', text).group(1)
            return subprocess.CompletedProcess(["upload"], 0 if state == "done" else 1, "", text)
        time.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--server-threads", type=int, default=8)
    parser.add_argument("--import-files", type=int, default=5)
    parser.add_argument(
        "--import-via",
        choices=["cli", "web"],
        default="cli",
        help="Run the import as `hotspots import` in its own process, or upload it as one zip "
        "through the import page (it then runs in a thread of the server).",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("Preparing a store with the bundled months and generated months to import…")
        db = demo_store(folder)
        months = generated_months(folder, args.import_files)
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(db), str(port), str(args.server_threads)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    signed_in_opener(base)
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    if time.time() > deadline:
                        raise SystemExit("The server did not start.") from None
                    time.sleep(0.3)
            results: list = []
            errors: list = []
            start = time.time()
            until = start + args.seconds
            threads = [
                threading.Thread(target=client, args=(base, until, k, results, errors))
                for k in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            time.sleep(min(10, args.seconds / 6))
            import_started = time.perf_counter()
            if args.import_via == "web":
                importer = upload(base, months, folder)
            else:
                importer = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "hotspots.cli",
                        "--db",
                        str(db),
                        "import",
                        *map(str, months),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                )
            import_seconds = time.perf_counter() - import_started
            for thread in threads:
                thread.join()
            elapsed = time.time() - start
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.clients} clients, {elapsed:.0f} s, server threads {args.server_threads}"
    )
    rows = len(months) * 12_000
    print(
        f"import ran {import_seconds:.1f} s during the load ({len(months)} files, ~{rows:,} rows; "
        f"exit {importer.returncode})"
    )
    if importer.returncode:
        print(importer.stderr[-2000:])
    print(
        f"\n{'request':<16} {'requests':>9} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    summary = {}
    for label in [m[0] for m in MIX] + ["all"]:
        times = [r[1] for r in results if label in ("all", r[0])]
        failed = sum(1 for e in errors if label in ("all", e[0]))
        if not times:
            continue
        line = {
            "requests": len(times),
            "per_second": len(times) / elapsed,
            "p50_ms": statistics.median(times) * 1000,
            "p95_ms": percentile(times, 0.95) * 1000,
            "p99_ms": percentile(times, 0.99) * 1000,
            "errors": failed,
        }
        summary[label] = line
        print(
            f"{label:<16} {line['requests']:>9,} {line['per_second']:>7.1f} {line['p50_ms']:>8.0f} "
            f"{line['p95_ms']:>8.0f} {line['p99_ms']:>8.0f} {failed:>7}"
        )
    import_ended = import_started + import_seconds
    during = [
        r[1] for r in results if r[0] == "map page" and import_started <= r[2] <= import_ended
    ]
    if during:
        print(
            f"map page while the import ran: {len(during)} requests, p95 {percentile(during, 0.95) * 1000:.0f} ms"
        )
    for label, message in errors[:10]:
        print(f"error: {label}: {message}")
    ok = not errors and summary.get("map page", {}).get("p95_ms", 1e9) < 1000
    print("\nTarget (0 errors, map-page p95 < 1 s):", "met" if ok else "NOT met")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "load.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
