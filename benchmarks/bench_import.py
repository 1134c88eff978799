"""Import throughput: parse, geocode and store at 1e4, 1e5 and 1e6 synthetic police.uk rows.

Rows are generated inside Ashfield (uniform random points, so every row is a distinct point:
harder for the geocoder than police.uk's shared snap points), with the LSOA each point falls in,
12 months, police.uk's categories and a third of rows without Crime IDs (ASB).

Each size runs in a fresh subprocess so that its peak memory (max RSS) is its own. The baseline,
measured in the same run, is a row-by-row shapely ``contains`` loop over the wards.

    python benchmarks/bench_import.py [--sizes 10000,100000,1000000] [--repeat 3]

Targets at 1e6 rows: geocoding >= 300,000 rows/s; whole import >= 50,000 rows/s; peak < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CATEGORIES = [
    "Violence and sexual offences",
    "Criminal damage and arson",
    "Shoplifting",
    "Vehicle crime",
    "Burglary",
    "Other theft",
    "Public order",
    "Drugs",
]


def generate(path: Path, n: int, seed: int = 0) -> None:
    """Write ``n`` police.uk-format rows at random points inside the district."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from hotspots.boundaries import load_pack
    from hotspots.config import DEFAULT_PACK
    from hotspots.geocode import bng_to_lonlat

    pack = load_pack(DEFAULT_PACK)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = pack.district.bounds
    district = pack.district
    shapely.prepare(district)
    xs, ys = [], []
    while sum(len(x) for x in xs) < n:
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        inside = shapely.contains_xy(district, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
    x = np.concatenate(xs)[:n]
    y = np.concatenate(ys)[:n]
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=pack.lsoas.crs)
    joined = gpd.sjoin(points, pack.lsoas, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    lon, lat = bng_to_lonlat(x, y)
    asb = rng.random(n) < 1 / 3
    crime_id = np.array([f"{i:064x}" for i in rng.integers(0, 2**62, n)], dtype=object)
    crime_id[asb] = ""
    category = np.array(CATEGORIES, dtype=object)[rng.integers(0, len(CATEGORIES), n)]
    category[asb] = "Anti-social behaviour"
    month = np.array([f"2017-{m:02d}" for m in range(1, 13)], dtype=object)[rng.integers(0, 12, n)]
    frame = pd.DataFrame(
        {
            "Crime ID": crime_id,
            "Month": month,
            "Reported by": "Nottinghamshire Police",
            "Falls within": "Nottinghamshire Police",
            "Longitude": np.round(lon, 6),
            "Latitude": np.round(lat, 6),
            "Location": [f"On or near Street {k}" for k in rng.integers(0, 3000, n)],
            "LSOA code": joined["lsoa_code"].fillna("").to_numpy(),
            "LSOA name": "",
            "Crime type": category,
            "Last outcome category": np.where(asb, "", "Under investigation"),
            "Context": "",
        }
    )
    frame.to_csv(path, index=False)


def measure(path: Path, db: Path) -> dict:
    """Import one file into a new store, timing each stage (runs in a subprocess)."""
    from hotspots.boundaries import load_pack
    from hotspots.config import DEFAULT_PACK
    from hotspots.geocode import place
    from hotspots.importer import prepare
    from hotspots.ingest.mapping import POLICE_UK
    from hotspots.ingest.sources import read_table
    from hotspots.store import ImportRecord, Store

    pack = load_pack(DEFAULT_PACK)
    # Loading the pack and indexing its polygons (~0.3 s) is start-up, paid once per process.
    place(np.array([450_000.0]), np.array([355_000.0]), pack, np.array(["E01027979"], dtype=object))
    started = time.perf_counter()
    table, _ = read_table(path.read_bytes(), path.name)
    read_seconds = time.perf_counter() - started
    prepared = prepare(table, POLICE_UK, pack)
    store_started = time.perf_counter()
    with Store(db) as store:
        record = ImportRecord(
            path.name, "-", "police.uk street", "police.uk", len(table), {}, {}, "-"
        )
        store.write_import(record, prepared.incidents, prepared.rejects)
    store_seconds = time.perf_counter() - store_started
    total = time.perf_counter() - started
    return {
        "rows": len(table),
        "parse_s": read_seconds + prepared.timings["parse"],
        "geocode_s": prepared.timings["geocode"],
        "store_s": store_seconds,
        "total_s": total,
        "imported": record.imported,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def baseline_rows_per_second(path: Path, rows: int = 5000) -> float:
    """Row-by-row shapely contains loop over the wards: the naive way."""
    import pandas as pd
    import shapely

    from hotspots.boundaries import load_pack
    from hotspots.config import DEFAULT_PACK
    from hotspots.geocode import lonlat_to_bng

    pack = load_pack(DEFAULT_PACK)
    frame = pd.read_csv(path, nrows=rows)
    x, y = lonlat_to_bng(frame["Longitude"], frame["Latitude"])
    wards = list(zip(pack.wards["ward_code"], pack.wards.geometry, strict=True))
    started = time.perf_counter()
    found = 0
    for px, py in zip(x, y, strict=True):
        point = shapely.Point(px, py)
        for _code, polygon in wards:
            if polygon.contains(point):
                found += 1
                break
    return len(x) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), Path(args.child[1]))))
        return

    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.system()}, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            path = tmp / f"synthetic-{size}.csv"
            generate(path, size)
            runs = []
            for k in range(args.repeat):
                db = tmp / f"bench-{size}-{k}.sqlite"
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), str(db)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(out.stdout))
                db.unlink()
            baseline = baseline_rows_per_second(path)
            median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            rows.append((size, median, baseline))
        header = f"{'rows':>9} {'parse s':>8} {'geocode s':>9} {'store s':>8} {'total s':>8} {'geocode rows/s':>15} {'import rows/s':>14} {'peak MB':>8} {'naive loop rows/s':>18} {'speed-up':>9}"
        print(f"median of {args.repeat} runs per size")
        print(header)
        for size, m, baseline in rows:
            geo_rate = m["rows"] / m["geocode_s"]
            print(
                f"{size:>9,} {m['parse_s']:>8.2f} {m['geocode_s']:>9.2f} {m['store_s']:>8.2f} {m['total_s']:>8.2f} "
                f"{geo_rate:>15,.0f} {m['rows'] / m['total_s']:>14,.0f} {m['peak_mb']:>8.0f} {baseline:>18,.0f} {geo_rate / baseline:>8.0f}x"
            )


if __name__ == "__main__":
    main()
