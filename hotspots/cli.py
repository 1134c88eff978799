"""The ``hotspots`` command."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click
import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hotspots.boundaries import load_pack
from hotspots.config import load_settings
from hotspots.errors import HotspotsError
from hotspots.importer import FileReport, ImportReport, import_paths
from hotspots.ingest.categories import CategoryGroups
from hotspots.ingest.mapping import FIELDS, ColumnMapping
from hotspots.ingest.postcodes import load_postcodes
from hotspots.periods import parse_period
from hotspots.reports import BY_CHOICES, summary
from hotspots.store import Store

out = Console()
if not out.is_terminal:  # piped or captured: do not wrap tables at 80 columns
    out = Console(width=200)
err = Console(stderr=True)
if not err.is_terminal:  # logs and CI: keep each message on one line
    err = Console(stderr=True, width=200)


class Context:
    def __init__(self, db: str | None):
        self.settings = load_settings(db)

    def store(self) -> Store:
        return Store(self.settings.db_path)

    def accounts(self):
        from hotspots.accounts import Accounts

        return Accounts.for_store(self.settings.db_path)

    def audit(self, action: str, detail: str) -> None:
        """Record a command's change in the audit log, as the operating-system user."""
        with self.accounts() as accounts:
            accounts.record(_os_user(), action, detail, "cli")

    def pack(self):
        return load_pack(self.settings.pack_dir)

    def groups(self) -> CategoryGroups:
        return CategoryGroups.load(self.settings.groups_path)


def _os_user() -> str:
    return f"{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'} (cli)"


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="Incident store (SQLite). Default: $HOTSPOTS_DB or instance/hotspots.sqlite.",
)
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Crime and ASB hotspot maps and patrol tasking for Community Safety Partnerships."""
    ctx.obj = Context(db)


# -- import -------------------------------------------------------------------------------
def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@contextmanager
def progress_reporter():
    """A progress bar on standard error and the ``progress(stage, done, total)`` that drives it."""
    with _progress_bar() as bar:
        task = bar.add_task("starting", total=1)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        yield report, bar


def print_import_report(report: ImportReport, console: Console = out) -> None:
    """The end-of-import summary: per-file table, reject reasons, boundary cases, agreement."""
    table = Table(title="Import summary", title_justify="left")
    for name in ("file", "rows read", "imported", "already stored", "rejected"):
        table.add_column(name, justify="left" if name == "file" else "right")
    for f in report.files:
        table.add_row(
            _short(f.name),
            *(f"{v:,}" for v in (f.rows_read, f.imported, f.already_stored, f.rejected)),
        )
    table.add_section()
    table.add_row(
        f"{len(report.files)} file(s)",
        *(f"{report.total(a):,}" for a in ("rows_read", "imported", "already_stored", "rejected")),
        style="bold",
    )
    console.print(table)
    reasons = report.rejected_by_reason
    if reasons:
        console.print(
            "Rejected rows by reason: "
            + ", ".join(f"{r} {c:,}" for r, c in sorted(reasons.items(), key=lambda x: -x[1]))
        )
        console.print("  (see them with: hotspots rejects --export rejects.csv)")
    rules = report.boundary_settled
    if rules:
        settled = rules.get("boundary-lsoa", 0) + rules.get("boundary-nearest", 0)
        console.print(
            f"Placement: {rules.get('inside', 0):,} inside one ward; {settled:,} boundary-ambiguous settled "
            f"({rules.get('boundary-lsoa', 0):,} by recorded LSOA, {rules.get('boundary-nearest', 0):,} by nearest ward); "
            f"{rules.get('edge', 0):,} just outside the district edge assigned to the nearest ward."
        )
    agreement = report.lsoa_agreement
    if agreement is not None:
        console.print(
            f"Ward/LSOA agreement: {agreement:.2%} of rows with a recorded LSOA are in a ward that overlaps it."
        )
    for skipped in report.skipped:
        console.print(f"Skipped {_short(skipped.name)}: {skipped.reason.rstrip('.')}.")


def _short(name: str) -> str:
    """A file's name without its folders (for a zip member: the zip's and the member's names)."""
    outer, _, member = name.partition("!")
    short = Path(outer).name + ("!" + Path(member).name if member else "")
    return short if len(short) <= 60 else "…" + short[-59:]


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(dir_okay=False),
    help="Column mapping file (TOML) for a local export.",
)
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="FIELD=COLUMN",
    help=f"Map one field to a column. Fields: {', '.join(FIELDS)}.",
)
@click.option(
    "--source",
    default="local",
    show_default=True,
    help="Name of the system a local export comes from.",
)
@click.option(
    "--save-mapping",
    type=click.Path(dir_okay=False),
    help="Save the mapping given by --map to this TOML file.",
)
@click.option(
    "--postcodes",
    type=click.Path(exists=True),
    help="Postcode centroids: Code-Point Open or ONSPD (file, folder or zip).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 500),
    help="Boundary-ambiguity band in metres (default 25).",
)
@click.pass_obj
def import_command(
    obj: Context, paths, mapping_file, pairs, source, save_mapping, postcodes, tolerance
) -> None:
    """Import police.uk street files (CSV, folders, zips) or local exports with a column mapping."""
    mapping = ColumnMapping.from_toml(mapping_file) if mapping_file else None
    if pairs:
        mapping = ColumnMapping.from_options(list(pairs), source=source, base=mapping)
    if save_mapping:
        if mapping is None:
            raise HotspotsError("--save-mapping needs a mapping given with --map or --mapping.")
        Path(save_mapping).write_text(mapping.to_toml(), encoding="utf-8")
        err.print(f"Saved the column mapping to {save_mapping}.")
    settings = obj.settings
    postcode_table = None
    if mapping is not None and "postcode" in mapping.columns:
        postcode_table = load_postcodes(str(postcodes or settings.postcodes_path))
    pack = obj.pack()
    with obj.store() as store, progress_reporter() as (progress, bar):

        def on_file(report: FileReport) -> None:
            bar.console.print(f"{_short(report.name)}: {report.counts}")

        report = import_paths(
            store,
            list(paths),
            pack,
            mapping=mapping,
            postcodes=postcode_table,
            tolerance_m=tolerance if tolerance is not None else settings.tolerance_m,
            progress=progress,
            on_file=on_file,
            imported_by=_os_user(),
        )
    obj.audit(
        "import",
        "; ".join(f"{_short(f.name)} ({f.counts})" for f in report.files),
    )
    print_import_report(report)


# -- summary ------------------------------------------------------------------------------
def emit(frame: pd.DataFrame, fmt: str, title: str = "") -> None:
    """Print a table as a rich table, CSV or JSON on standard output."""
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False, lineterminator="\n"))
    elif fmt == "json":
        sys.stdout.write(frame.to_json(orient="records", indent=2) + "\n")
    else:
        table = Table(title=title or None, title_justify="left")
        for column in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[column])
            table.add_column(column, justify="right" if numeric else "left")
        for row in frame.itertuples(index=False):
            table.add_row(
                *(
                    "" if pd.isna(v) else f"{v:,}" if isinstance(v, int | np.integer) else str(v)
                    for v in row
                )
            )
        out.print(table)


@cli.command("summary")
@click.option(
    "--from", "start", metavar="YYYY-MM", help="First month (default: the store's first)."
)
@click.option(
    "--to", "end", metavar="YYYY-MM", help="Last month (default: --from, or the store's last)."
)
@click.option("--group", help="Category group, e.g. asb or violence (default: every category).")
@click.option("--by", type=click.Choice(BY_CHOICES), default="ward", show_default=True)
@format_option
@click.pass_obj
def summary_command(obj: Context, start, end, group, by, fmt) -> None:
    """Incident counts and rates per 1,000 residents by ward, area, LSOA or category."""
    with obj.store() as store:
        if start is None and end is not None:
            raise HotspotsError("--to needs --from.")
        period = parse_period(start, end) if start else None
        table = summary(store, obj.pack(), obj.groups(), period, group, by)
        from hotspots.reports import store_period

        shown = period or store_period(store)
    emit(table, fmt, f"Incidents by {by}, {shown.label}" + (f", group {group}" if group else ""))


# -- rejects ------------------------------------------------------------------------------
@cli.command("rejects")
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False),
    help="Write every rejected row to this CSV file.",
)
@click.option("--import-id", type=int, help="Only rows from this import (see hotspots imports).")
@click.pass_obj
def rejects_command(obj: Context, export_path, import_id) -> None:
    """Rejected rows with their reasons; export them to CSV to fix and re-import."""
    with obj.store() as store:
        rows = store.rejects(import_id)
        counts = store.reject_counts()
    if export_path:
        rows.to_csv(export_path, index=False)
        out.print(f"Wrote {len(rows):,} rejected rows to {export_path}.")
        return
    if rows.empty:
        out.print("No rejected rows.")
        return
    emit(
        pd.DataFrame({"reason": counts.index, "rows": counts.to_numpy()}),
        "table",
        "Rejected rows by reason",
    )
    out.print("Export them with: hotspots rejects --export rejects.csv")


@cli.command("imports")
@format_option
@click.pass_obj
def imports_command(obj: Context, fmt) -> None:
    """Provenance of every import: file, sha256, rows read, imported, rejected, when."""
    with obj.store() as store:
        frame = store.imports()
    if frame.empty:
        out.print("Nothing has been imported yet.")
        return
    frame["rejected_by_reason"] = frame["rejected_by_reason"].map(
        lambda d: json.dumps(d) if fmt != "table" else "; ".join(f"{k} {v}" for k, v in d.items())
    )
    columns = [
        "id",
        "file_name",
        "sha256",
        "rows_read",
        "imported",
        "already_stored",
        "rejected",
        "rejected_by_reason",
        "started_at",
    ]
    frame = frame[columns]
    if fmt == "table":
        frame = frame.assign(
            sha256=frame["sha256"].str[:12], file_name=frame["file_name"].map(_short)
        )
        frame = frame.rename(columns={"rejected_by_reason": "rejected by reason"})
    emit(frame, fmt, "Imports")


# -- hotspots -------------------------------------------------------------------------------
def _methods_help() -> str:
    from hotspots.methods import REGISTRY

    lines = []
    for name, module in REGISTRY.items():
        params = ", ".join(f"{p.name}" + (f" [{p.unit}]" if p.unit else "") for p in module.PARAMS)
        lines.append(f"{name}: {params}")
    return "; ".join(lines)


def _parse_params(pairs: tuple[str, ...], method: str) -> dict:
    from hotspots.methods import get_method

    spec = get_method(method).PARAMS
    given = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise HotspotsError(
                f"--param '{pair}' is not of the form name=value (e.g. bandwidth=300)."
            )
        given[name.strip()] = value.strip()
    return spec.resolve(given) and {k: spec.get(k).convert(v) for k, v in given.items()}


@cli.command("methods")
def methods_command() -> None:
    """Every hotspot method and its parameters: default, bounds, unit and help."""
    from hotspots.methods import REGISTRY

    rows = []
    for name, module in REGISTRY.items():
        for p in module.PARAMS:
            bounds = "" if p.choices else f"{p.minimum:g}–{p.maximum:g}"
            rows.append(
                {
                    "method": name,
                    "parameter": p.name,
                    "default": "computed" if p.default is None else str(p.default),
                    "range": bounds or " | ".join(p.choices),
                    "unit": p.unit,
                    "help": p.help,
                }
            )
    emit(pd.DataFrame(rows), "table", "Methods (set with --param name=value)")


@cli.command("detect")
@click.option("--group", required=True, help="Category group, e.g. asb or violence.")
@click.option(
    "--from",
    "start",
    required=True,
    metavar="YYYY-MM",
    help="First month (or day, or ISO week) of data.",
)
@click.option("--to", "end", metavar="YYYY-MM", help="Last month of data (default: --from).")
@click.option(
    "--method",
    help="A method from hotspots methods (default: the saved recommendation for the group, else kde).",
)
@click.option(
    "--param",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A method parameter; see hotspots methods.",
)
@click.option(
    "--coverage",
    type=click.FloatRange(0.001, 0.5),
    help="Share of the area to cover (e.g. 0.02); default: the method's own rule.",
)
@click.option("--area", help="A neighbourhood area or ward (default: the whole district).")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write hotspots to .geojson (WGS84) or .gpkg.",
)
@click.pass_obj
def detect_command(
    obj: Context, group, start, end, method, pairs, coverage, area, out_path
) -> None:
    """Find hotspots with one method and print them ranked."""
    from hotspots.methods import StudyArea, get_method
    from hotspots.profiles import settings_for
    from hotspots.reports import group_categories

    if method is None:
        with obj.store() as store:
            chosen = settings_for(store, group)
        method, base_params = chosen.method, dict(chosen.params)
        err.print(f"Using the {chosen.source} for {group}: {method}.")
    else:
        base_params = {}
    module = get_method(method)
    params = {**base_params, **_parse_params(pairs, method)}
    pack = obj.pack()
    boundary = StudyArea.from_pack(pack, area)
    period = parse_period(start, end)
    with obj.store() as store:
        categories = group_categories(store, obj.groups(), group)
        wards = None if area is None else list(boundary.wards["ward_code"])
        incidents = store.incidents(period, categories, wards, columns=["occurred", "location"])
    if incidents.empty:
        raise HotspotsError(f"No {group} incidents in {boundary.name} for {period.label}.")
    result = module.detect(incidents, params, boundary, coverage)
    for note in result.notes:
        err.print(note)
    table = result.table().assign(
        share_of_incidents=lambda t: (t["share_of_incidents"] * 100).round(1).astype(str) + "%",
        area_m2=lambda t: t["area_m2"].round(0).astype(int),
        density_per_km2=lambda t: t["density_per_km2"].round(1),
    )
    emit(
        table,
        "table",
        f"{module.TITLE}: {group} in {boundary.name}, {period.label} ({len(incidents):,} incidents)",
    )
    if out_path:
        _write_hotspots(result.hotspots, Path(out_path))
        out.print(f"Wrote {len(result.hotspots)} hotspot(s) to {out_path}.")


def _write_hotspots(hotspots, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        hotspots.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    elif suffix == ".gpkg":
        hotspots.to_file(path, driver="GPKG", layer="hotspots")
    else:
        raise HotspotsError(f"--out must end in .geojson or .gpkg, not '{path.name}'.")


@cli.command("evaluate")
@click.option("--group", required=True, help="Category group, e.g. asb or violence.")
@click.option("--methods", help="Comma-separated methods (default: every registered method).")
@click.option(
    "--train-months",
    default=3,
    show_default=True,
    type=click.IntRange(1, 36),
    help="Periods to train on (weeks for dated data).",
)
@click.option(
    "--test-months",
    default=1,
    show_default=True,
    type=click.IntRange(1, 12),
    help="Periods to test on.",
)
@click.option("--coverage", default=0.02, show_default=True, type=click.FloatRange(0.001, 0.5))
@click.option("--area", help="A neighbourhood area or ward (default: the whole district).")
@click.option(
    "--candidates/--defaults-only",
    default=False,
    help="Also try each method's alternative settings.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True
)
@click.pass_obj
def evaluate_command(
    obj: Context, group, methods, train_months, test_months, coverage, area, candidates, fmt
) -> None:
    """Back-test methods on the store's data: PAI, PEI, RRI and hit rate per method."""
    from hotspots.evaluate import Config, backtest, candidate_configs, mean_scores, recommend
    from hotspots.methods import REGISTRY

    names = [m.strip() for m in (methods or ",".join(REGISTRY)).split(",") if m.strip()]
    configs = candidate_configs(names) if candidates else [Config.of(name) for name in names]
    with obj.store() as store, progress_reporter() as (progress, _bar):
        folds_table = backtest(
            store,
            obj.pack(),
            obj.groups(),
            group,
            configs,
            train_months,
            test_months,
            coverage,
            area,
            progress=progress,
        )
    means = mean_scores(folds_table)
    shown = means[["config", "pai", "pei", "rri", "hit_rate", "area_share", "folds"]].copy()
    if fmt == "csv":
        emit(shown, "csv")
        return
    for column in ("pai", "rri"):
        shown[column] = shown[column].map(lambda v: f"{v:.2f}")
    shown["pei"] = shown["pei"].map(lambda v: f"{v:.3f}")
    for column in ("hit_rate", "area_share"):
        shown[column] = shown[column].map(lambda v: f"{v:.1%}")
    first, last = folds_table["test"].iloc[0], folds_table["test"].iloc[-1]
    emit(
        shown,
        "table",
        f"Back-test for {group}: train {train_months}, test {test_months}, coverage {coverage:.0%}; tests {first} … {last}",
    )
    out.print(recommend(means, group).sentence)


@cli.command("recommend")
@click.option(
    "--group",
    "groups_asked",
    multiple=True,
    help="Group(s) to recommend for (default: asb and violence).",
)
@click.option("--coverage", default=0.02, show_default=True, type=click.FloatRange(0.001, 0.5))
@click.pass_obj
def recommend_command(obj: Context, groups_asked, coverage) -> None:
    """Back-test every method and its candidate settings; save the best for maps and tasking."""
    from hotspots.evaluate import (
        backtest,
        candidate_configs,
        mean_scores,
        recommend,
        save_recommendation,
    )

    configs = candidate_configs()
    with obj.store() as store:
        for group in groups_asked or ("asb", "violence"):
            with progress_reporter() as (progress, _bar):
                folds_table = backtest(
                    store,
                    obj.pack(),
                    obj.groups(),
                    group,
                    configs,
                    coverage=coverage,
                    progress=progress,
                )
            best = recommend(mean_scores(folds_table), group)
            save_recommendation(store, best, coverage)
            out.print(best.sentence + " Saved.")


def first_start(obj: Context) -> None:
    """Load the demo data into an empty store and back-test a default method for the main groups."""
    from hotspots.demo import ensure_demo_data
    from hotspots.evaluate import (
        Config,
        backtest,
        mean_scores,
        recommend,
        save_recommendation,
        saved_recommendation,
    )
    from hotspots.methods import DEFAULT_COVERAGE, REGISTRY
    from hotspots.reports import group_categories

    settings = obj.settings
    err.print(f"Incident store: {settings.db_path}")
    with progress_reporter() as (progress, _bar):
        report = ensure_demo_data(settings, progress)
    if report is not None:
        err.print(f"First start: imported the bundled demo data from {settings.demo_data_dir}.")
        print_import_report(report, err)
    with obj.store() as store:
        for group in ("asb", "violence"):
            if saved_recommendation(store, group) is not None:
                continue
            try:
                group_categories(store, obj.groups(), group)
            except HotspotsError:
                continue
            err.print(f"Back-testing the methods to choose the default map for {group} (once)…")
            with progress_reporter() as (progress, _bar):
                configs = [Config.of(name) for name in REGISTRY]
                try:
                    folds = backtest(
                        store, obj.pack(), obj.groups(), group, configs, progress=progress
                    )
                except HotspotsError as exc:
                    err.print(f"No recommendation for {group}: {exc}")
                    continue
            best = recommend(mean_scores(folds), group)
            save_recommendation(store, best, DEFAULT_COVERAGE)
            err.print(best.sentence)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--tiles",
    default="osm",
    show_default=True,
    help="Basemap tile URL template, 'osm', or 'none' for no basemap.",
)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.pass_obj
def serve_command(obj: Context, host, port, tiles, threads) -> None:
    """Serve the maps and API (demo data loaded into an empty store first)."""
    import waitress

    from hotspots.maps import OSM_TILES
    from hotspots.web import create_app

    first_start(obj)
    ensure_admin(obj)
    tile_url = {"osm": OSM_TILES, "none": None}.get(tiles, tiles)
    if tile_url and "{z}" not in tile_url:
        raise HotspotsError(
            "--tiles must be 'osm', 'none' or a URL template with {z}, {x} and {y}."
        )
    app = create_app({"DB_PATH": str(obj.settings.db_path), "TILES": tile_url})
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    out.print(f"hotspots is running: open http://{shown}:{port}/  (Ctrl+C to stop)")
    waitress.serve(app, host=host, port=port, threads=threads, ident="hotspots")


@cli.command("tasking")
@click.option("--area", help="Neighbourhood area (default: every area).")
@click.option("--group", required=True, help="Category group, e.g. asb or violence.")
@click.option(
    "--from", "start", required=True, metavar="YYYY-MM", help="First month (or day, or ISO week)."
)
@click.option("--to", "end", metavar="YYYY-MM", help="Last month (default: --from).")
@click.option(
    "--top",
    default=3,
    show_default=True,
    type=click.IntRange(1, 10),
    help="Patrol areas per neighbourhood area.",
)
@click.option(
    "--method", help="Hotspot method (default: the group's saved recommendation, else kde)."
)
@click.option("--visit-minutes", default=15, show_default=True, type=click.IntRange(5, 60))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="pack.pdf or pack.html",
)
@click.pass_obj
def tasking_command(
    obj: Context, area, group, start, end, top, method, visit_minutes, out_path
) -> None:
    """Build the printable tasking pack: a cover and one page per patrol area."""
    from hotspots.printing import html_document, pdf_bytes
    from hotspots.tasking import build_pack

    path = Path(out_path)
    if path.suffix.lower() not in (".pdf", ".html", ".htm"):
        raise HotspotsError(f"--out must end in .pdf or .html, not '{path.name}'.")
    pack = obj.pack()
    with obj.store() as store:
        tasking = build_pack(
            store,
            pack,
            obj.groups(),
            group,
            parse_period(start, end),
            [area] if area else None,
            method=method,
            top=top,
            visit_minutes=visit_minutes,
        )
    if path.suffix.lower() == ".pdf":
        path.write_bytes(pdf_bytes(tasking, pack))
    else:
        path.write_text(html_document(tasking, pack), encoding="utf-8")
    rows = pd.DataFrame(
        [
            {
                "id": p.id,
                "priority": p.priority,
                "incidents": p.incidents,
                "trend": p.trend,
                "streets": "; ".join(p.top_streets),
                "visits/day": p.visits_per_day,
            }
            for p in tasking.patrol_areas
        ]
    )
    if not rows.empty:
        emit(
            rows,
            "table",
            f"Patrol areas: {tasking.group_label}, {', '.join(tasking.areas)}, {tasking.period.label}",
        )
    for note in tasking.notes:
        err.print(note)
    out.print(f"Wrote the tasking pack ({len(tasking.patrol_areas) + 1} pages) to {path}.")


@cli.command("report")
@click.option(
    "--from",
    "start",
    metavar="YYYY-MM",
    help="First month (default: the latest 12 months with data).",
)
@click.option(
    "--to", "end", metavar="YYYY-MM", help="Last month (default: 11 months after --from)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "html"]),
    default="table",
    show_default=True,
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(),
    help="File (.csv, .zip of every table, .html) or folder for the CSVs.",
)
@click.option(
    "--target",
    "target_pairs",
    multiple=True,
    metavar="CATEGORY=Reduce|Monitor",
    help="Set and keep a row's target.",
)
@click.pass_obj
def report_command(obj: Context, start, end, fmt, out_path, target_pairs) -> None:
    """The strategic assessment: crime table, area shares, ward rates, monthly trend."""
    from hotspots.assessment import TARGETS, assessment_period, strategic_assessment
    from hotspots.printing import report_html

    with obj.store() as store:
        for pair in target_pairs:
            category, sep, target = pair.rpartition("=")
            if not sep or target not in TARGETS:
                raise HotspotsError(
                    f"--target '{pair}' must be CATEGORY=Reduce or CATEGORY=Monitor."
                )
            store.set_report_target(category.strip(), target)
        period = assessment_period(store.months(), start or "", end or "")
        if period is None:
            raise HotspotsError("No 12 consecutive months with data: give --from and --to.")
        assessment = strategic_assessment(store, obj.pack(), obj.groups(), period)
    for warning in assessment.warnings:
        err.print(f"Warning: {warning}")
    if fmt == "html":
        document = report_html(assessment)
        if not out_path:
            raise HotspotsError("--format html needs --out FILE.html.")
        Path(out_path).write_text(document, encoding="utf-8")
        out.print(f"Wrote the report to {out_path}.")
        return
    if fmt == "csv":
        if not out_path:
            sys.stdout.write(assessment.csv("crime"))
            return
        target = Path(out_path)
        if target.suffix.lower() == ".zip":
            target.write_bytes(assessment.zip_bytes())
        elif target.suffix.lower() == ".csv":
            target.write_text(assessment.csv("crime"), encoding="utf-8")
        else:
            target.mkdir(parents=True, exist_ok=True)
            for name in assessment.tables():
                (target / f"{name}.csv").write_text(assessment.csv(name), encoding="utf-8")
        out.print(f"Wrote the report tables to {out_path}.")
        return
    title = f"{assessment.current.label} against {assessment.previous.label}"
    emit(
        assessment.crime.assign(
            pct_change=assessment.crime["pct_change"].map(
                lambda v: "n/a" if pd.isna(v) else f"{v:+.2f}%"
            )
        ),
        "table",
        f"Crime: {title}",
    )
    emit(assessment.areas, "table", "Neighbourhood areas: shares and rates per 1,000")


@cli.group("profile")
def profile_group() -> None:
    """Named method settings per group, used by the maps and tasking packs (with history)."""


@profile_group.command("list")
@click.pass_obj
def profile_list(obj: Context) -> None:
    """The current profile of every group."""
    from hotspots import profiles

    with obj.store() as store:
        rows = profiles.all_current(store)
    if not rows:
        out.print(
            "No profiles saved yet. Save one with: hotspots profile save --group asb --name … --method … --note …"
        )
        return
    emit(
        pd.DataFrame(
            [
                {
                    "group": p.group,
                    "profile": p.label,
                    "coverage": p.coverage,
                    "version": p.version,
                    "saved_at": p.saved_at,
                    "saved_by": p.saved_by or "",
                }
                for p in rows
            ]
        ),
        "table",
        "Profiles in use",
    )


@profile_group.command("show")
@click.option("--group", required=True)
@click.pass_obj
def profile_show(obj: Context, group) -> None:
    """Every saved version of a group's profile: who, when, why and the scores then."""
    from hotspots import profiles

    with obj.store() as store:
        rows = profiles.history(store, group)
    if not rows:
        raise HotspotsError(f"Group '{group}' has no saved profile.")
    emit(
        pd.DataFrame(
            [
                {
                    "version": p.version,
                    "profile": p.label,
                    "coverage": p.coverage,
                    "saved_at": p.saved_at,
                    "saved_by": p.saved_by or "",
                    "note": p.note,
                    "mean_pei": "" if not p.scores else round(p.scores.get("pei", float("nan")), 3),
                }
                for p in rows
            ]
        ),
        "table",
        f"Profile history for {group} (last is current)",
    )


@profile_group.command("save")
@click.option("--group", required=True)
@click.option("--name", required=True, help="e.g. 'ASB — default'")
@click.option("--method", required=True)
@click.option("--param", "pairs", multiple=True, metavar="NAME=VALUE")
@click.option("--coverage", default=0.02, show_default=True, type=click.FloatRange(0.001, 0.5))
@click.option("--note", required=True, help="Why this setting (required).")
@click.option(
    "--by",
    "saved_by",
    default=lambda: os.environ.get("USER"),
    help="Who is saving (default: $USER).",
)
@click.option("--score/--no-score", default=True, help="Back-test the setting and keep its scores.")
@click.pass_obj
def profile_save(obj: Context, group, name, method, pairs, coverage, note, saved_by, score) -> None:
    """Save the group's profile (a new version); maps and tasking packs use it at once."""
    from hotspots import profiles
    from hotspots.evaluate import Config, backtest, mean_scores

    params = _parse_params(pairs, method)
    with obj.store() as store:
        scores = None
        if score:
            try:
                folds = backtest(
                    store,
                    obj.pack(),
                    obj.groups(),
                    group,
                    [Config.of(method, params)],
                    coverage=coverage,
                )
                means = mean_scores(folds).iloc[0]
                scores = {k: float(means[k]) for k in ("pai", "pei", "rri", "hit_rate")} | {
                    "folds": int(means["folds"])
                }
            except HotspotsError as exc:
                err.print(f"Not scored: {exc}")
        saved = profiles.save(store, group, name, method, params, coverage, note, saved_by, scores)
    obj.audit("profile_save", f"{group} version {saved.version}: {saved.label}")
    out.print(f"Saved version {saved.version} of the {group} profile: {saved.label}.")


@profile_group.command("revert")
@click.option("--group", required=True)
@click.option("--version", "version", required=True, type=int)
@click.option("--note", required=True, help="Why revert (required).")
@click.option("--by", "saved_by", default=lambda: os.environ.get("USER"))
@click.pass_obj
def profile_revert(obj: Context, group, version, note, saved_by) -> None:
    """Make an earlier version current again (recorded as a new version)."""
    from hotspots import profiles

    with obj.store() as store:
        saved = profiles.revert(store, group, version, note, saved_by)
    obj.audit(
        "profile_revert", f"{group} version {version} made current as version {saved.version}"
    )
    out.print(f"Version {version} is current again as version {saved.version}: {saved.label}.")


# -- users -------------------------------------------------------------------------------
@cli.group("user")
def user_group() -> None:
    """Accounts for the web service: add, list, disable, reset a password."""


def _areas_option(obj: Context, areas: tuple[str, ...]) -> list[str]:
    pack = obj.pack()
    chosen = [pack.area_named(a).name for a in areas]  # names the known areas if one is wrong
    return chosen


@user_group.command("add")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(["viewer", "analyst", "admin"]), default="viewer", show_default=True
)
@click.option(
    "--area",
    "areas",
    multiple=True,
    help="Restrict to this neighbourhood area (repeat for more; default: every area).",
)
@click.option(
    "--password",
    envvar="HOTSPOTS_NEW_PASSWORD",
    help="The password (default: a random one, printed once). Also $HOTSPOTS_NEW_PASSWORD.",
)
@click.pass_obj
def user_add(obj: Context, username, role, areas, password) -> None:
    """Add an account."""
    chosen = _areas_option(obj, areas)
    with obj.accounts() as accounts:
        user, password_used = accounts.add(
            username, role, password, chosen, by=_os_user(), client="cli"
        )
    where = f" for {', '.join(user.areas)}" if user.areas else ""
    out.print(f"Added {user.username} as {user.role}{where}.")
    if not password:
        out.print(f"Password (shown once): {password_used}", highlight=False)


@user_group.command("list")
@format_option
@click.pass_obj
def user_list(obj: Context, fmt) -> None:
    """Every account, its role, areas and status."""
    with obj.accounts() as accounts:
        users = accounts.users()
    frame = pd.DataFrame(
        [
            {
                "username": u.username,
                "role": u.role,
                "areas": "; ".join(u.areas) or "all",
                "status": "disabled" if u.disabled else "active",
                "created": u.created_at[:10],
            }
            for u in users
        ],
        columns=["username", "role", "areas", "status", "created"],
    )
    emit(frame, fmt, "Accounts")


@user_group.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@click.pass_obj
def user_disable(obj: Context, username, enable) -> None:
    """Disable an account (its sessions end at once), or enable it again."""
    with obj.accounts() as accounts:
        user = accounts.set_disabled(username, not enable, by=_os_user(), client="cli")
    out.print(f"{user.username} is {'enabled' if enable else 'disabled'}.")


@user_group.command("reset-password")
@click.argument("username")
@click.option(
    "--password",
    envvar="HOTSPOTS_NEW_PASSWORD",
    help="The new password (default: a random one, printed once). Also $HOTSPOTS_NEW_PASSWORD.",
)
@click.pass_obj
def user_reset_password(obj: Context, username, password) -> None:
    """Set a new password; the user's open sessions end."""
    with obj.accounts() as accounts:
        new = accounts.reset_password(username, password, by=_os_user(), client="cli")
    out.print(f"New password set for {username}.")
    if not password:
        out.print(f"Password (shown once): {new}", highlight=False)


def ensure_admin(obj: Context) -> None:
    """On first run, create the ``admin`` account: $HOTSPOTS_ADMIN_PASSWORD or a random one."""
    with obj.accounts() as accounts:
        if accounts.count():
            return
        given = os.environ.get("HOTSPOTS_ADMIN_PASSWORD") or None
        _user, password = accounts.add("admin", "admin", given, by="first run", client="cli")
    if given:
        out.print("Created the admin account with the password in HOTSPOTS_ADMIN_PASSWORD.")
    else:
        out.print(
            f"Created the admin account. Sign in as [bold]admin[/] with password "
            f"[bold]{password}[/] — it is shown this once; change it with "
            "`hotspots user reset-password admin` if it is lost.",
            highlight=False,
        )


@cli.command("start")
@click.pass_obj
def start_command(obj: Context) -> None:
    """Start on the embedded default: load the demo data into an empty store, then show wards."""
    from hotspots.demo import ensure_demo_data
    from hotspots.periods import add_months, latest_full_window
    from hotspots.reports import store_period

    settings = obj.settings
    err.print(f"Incident store: {settings.db_path}")
    with progress_reporter() as (progress, _bar):
        report = ensure_demo_data(settings, progress)
    if report is not None:
        err.print(f"First start: imported the bundled demo data from {settings.demo_data_dir}.")
        print_import_report(report)
    with obj.store() as store:
        # The latest 12 months that all have data; failing that, the latest 12 months.
        period = latest_full_window(store.months(), 12)
        if period is None:
            end = store_period(store).end
            period = parse_period(
                add_months(end, -12).strftime("%Y-%m"), add_months(end, -1).strftime("%Y-%m")
            )
        table = summary(store, obj.pack(), obj.groups(), period, None, "ward")
        missing = sorted(set(period.months) - set(store.months()))
    emit(table, "table", f"All incidents by ward, {period.label}")
    if missing:
        err.print(
            f"Note: no data for {len(missing)} month(s) in this period: {', '.join(missing)}."
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one sentence and a non-zero exit, never a traceback."""
    try:
        cli.main(args=argv, prog_name="hotspots", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("Stopped.")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HotspotsError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("Stopped. The file being imported was rolled back; earlier files are kept.")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: a sentence, not a traceback
        if os.environ.get("HOTSPOTS_DEBUG"):
            raise
        err.print(
            f"[bold red]Unexpected error:[/] {type(exc).__name__}: {exc}. Set HOTSPOTS_DEBUG=1 to see details.",
            highlight=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
