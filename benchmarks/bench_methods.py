"""Time and peak memory of every hotspot method at 1e4, 1e5 and 1e6 points in a 20 × 20 km area.

Points are police.uk-like: 70% around 300 random centres (60–250 m spread), 30% uniform, all
snapped to a 10 m lattice as police.uk snaps to map points, so duplicates occur as they do in real
data. Each (method, size) runs in a fresh subprocess; "peak MB" is its maximum resident memory.
Baselines in the same run: scikit-learn ``KernelDensity`` (Epanechnikov, the closest kernel it has
to the quartic) scored on the same 250 m grid, and plain scikit-learn ``DBSCAN`` on the raw,
unmerged points. Also: Gi* on the real Ashfield district at 50 m cells, and every method at
district-year scale (the first 5,000 bundled police.uk incidents).

    python benchmarks/bench_methods.py [--sizes 10000,100000,1000000] [--repeat 3]

Targets: grid and kde at 1e6 < 1 s; gistar on a district grid of ~50 m cells < 3 s; dbscan at
1e6 < 15 s and < 2 GB; every method but hdbscan at 5,000 points < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIDE = 20_000.0
ORIGIN = (440_000.0, 345_000.0)
LIMIT_BYTES = 12 * 1024**3  # a baseline that needs more than this is reported as failing
TIMEOUT_S = 300


def synthetic(n: int, seed: int = 0):
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    clustered = int(n * 0.7)
    centres = rng.uniform(0, SIDE, (300, 2))
    which = rng.integers(0, len(centres), clustered)
    spread = rng.uniform(60, 250, len(centres))[which]
    xy = np.vstack(
        [
            centres[which] + rng.normal(0, 1, (clustered, 2)) * spread[:, None],
            rng.uniform(0, SIDE, (n - clustered, 2)),
        ]
    )
    xy = np.clip(np.round(xy / 10) * 10, 0, SIDE - 1) + np.array(ORIGIN)
    months = rng.choice([f"2017-{m:02d}" for m in range(1, 13)], n)
    return gpd.GeoDataFrame(
        {"occurred": months}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:27700"
    )


def square_area():
    import geopandas as gpd
    import shapely

    from hotspots.methods import StudyArea

    box = shapely.box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + SIDE, ORIGIN[1] + SIDE)
    wards = gpd.GeoDataFrame(
        {"ward_code": ["X"], "ward_name": ["Square"], "area": ["Square"]}, geometry=[box], crs=27700
    )
    return StudyArea("20 km square", box, wards)


def real_incidents(limit: int | None = None):
    import geopandas as gpd
    import pandas as pd

    frames = [
        pd.read_csv(p, dtype=str) for p in sorted((ROOT / "data" / "policeuk").rglob("*.csv"))
    ]
    table = pd.concat(frames, ignore_index=True).iloc[:limit]
    points = gpd.GeoDataFrame(
        {"occurred": table["Month"], "location": table["Location"]},
        geometry=gpd.points_from_xy(
            table["Longitude"].astype(float), table["Latitude"].astype(float)
        ),
        crs="EPSG:4326",
    )
    return points.to_crs(27700)


def run_one(job: dict) -> dict:
    """One measurement (inside a subprocess)."""
    from hotspots.methods import StudyArea, get_method

    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))
    kind = job["kind"]
    if kind == "district":
        from hotspots.boundaries import load_pack
        from hotspots.config import DEFAULT_PACK

        area = StudyArea.from_pack(load_pack(DEFAULT_PACK))
        incidents = real_incidents(job.get("limit"))
    else:
        area = square_area()
        incidents = synthetic(job["n"])
    started = time.perf_counter()
    if kind == "kde-baseline":
        from sklearn.neighbors import KernelDensity

        from hotspots.methods.base import Grid, xy

        grid = Grid.covering(area.geometry, 250)
        gx, gy = grid.centres()
        x, y = xy(incidents)
        model = KernelDensity(kernel="epanechnikov", bandwidth=500).fit(np.column_stack([x, y]))
        model.score_samples(np.column_stack([gx.ravel(), gy.ravel()]))
    elif kind == "dbscan-baseline":
        from sklearn.cluster import DBSCAN

        from hotspots.methods.base import xy

        x, y = xy(incidents)
        DBSCAN(eps=150, min_samples=job["min_samples"]).fit(np.column_stack([x, y]))
    else:
        get_method(job["method"]).detect(incidents, job.get("params", {}), area, None)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(job: dict, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(job)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"over {TIMEOUT_S} s"}
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["failed"])[-1]
            return {"error": "MemoryError" if "MemoryError" in out.stderr else last[:60]}
        runs.append(json.loads(out.stdout))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def show(label: str, result: dict, target: str = "") -> None:
    if "error" in result:
        print(f"{label:<44} {'failed: ' + result['error']:>24} {target}")
    else:
        print(f"{label:<44} {result['seconds']:>10.3f} s {result['peak_mb']:>8.0f} MB  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(json.loads(args.child))))
        return

    print(
        f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}; median of {args.repeat}"
    )
    print(f"{'what':<44} {'time':>12} {'peak':>11}  target")
    methods = ["grid", "kde", "gistar", "dbscan", "hdbscan", "prospective"]
    targets = {
        ("grid", 1_000_000): "< 1 s",
        ("kde", 1_000_000): "< 1 s",
        ("dbscan", 1_000_000): "< 15 s, < 2 GB",
    }
    for n in (int(s) for s in args.sizes.split(",")):
        # DBSCAN's threshold scales with volume: 5 × the mean density, per km² per month.
        min_density = 5 * n / (SIDE**2 / 1e6 * 12)
        min_samples = int(np.ceil(min_density * np.pi * 0.15**2 * 12))
        for method in methods:
            if method == "hdbscan" and n > 100_000:
                print(f"{method + f' {n:,} points':<44} {'skipped above 1e5 (no target)':>24}")
                continue
            params = {"eps": 150, "min_density": min_density} if method == "dbscan" else {}
            job = {"kind": "method", "method": method, "n": n, "params": params}
            show(f"{method} {n:,} points", measure(job, args.repeat), targets.get((method, n), ""))
        show(f"baseline sklearn KernelDensity {n:,}", measure({"kind": "kde-baseline", "n": n}, 1))
        show(
            f"baseline plain sklearn DBSCAN {n:,}",
            measure({"kind": "dbscan-baseline", "n": n, "min_samples": min_samples}, 1),
        )
    show(
        "gistar, Ashfield district, 50 m cells (17,935)",
        measure({"kind": "district", "method": "gistar", "params": {"cell_size": 50}}, args.repeat),
        "< 3 s",
    )
    for method in methods:
        if method == "hdbscan":
            continue
        show(
            f"{method}, Ashfield, 5,000 real incidents",
            measure({"kind": "district", "method": method, "limit": 5000}, args.repeat),
            "< 0.5 s",
        )


if __name__ == "__main__":
    main()
