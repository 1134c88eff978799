"""Printed tasking packs: static maps drawn with matplotlib, an A4 PDF, and an HTML print view.

Maps need no tiles or network: ward lines, the patrol area, the incidents, the busiest streets'
names, a scale bar and a north arrow. They are drawn to read in black and white as well as in
colour: patrol areas are hatched with a heavy outline, incidents are black dots, wards are grey.
"""

from __future__ import annotations

import base64
import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

from hotspots.boundaries import BoundaryPack  # noqa: E402
from hotspots.config import PROJECT_ROOT  # noqa: E402
from hotspots.tasking import WEEKDAYS, PatrolArea, TaskingPack  # noqa: E402

# The print views render outside Flask (the CLI writes them too), from the same templates folder.
_TEMPLATES = Environment(
    loader=FileSystemLoader(str(PROJECT_ROOT / "templates")), autoescape=select_autoescape(["html"])
)

A4 = (8.27, 11.69)  # inches, portrait
PATROL_EDGE = "#b10026"
PATROL_FILL = "#fd8d3c"


def _polygon_path(geometry) -> MplPath | None:
    """A matplotlib path for a (multi)polygon, holes included."""
    vertices, codes = [], []
    for part in shapely.get_parts(geometry):
        if part.is_empty or part.geom_type != "Polygon":
            continue
        for ring in [part.exterior, *part.interiors]:
            coords = np.asarray(ring.coords)
            vertices.append(coords)
            codes.append(
                [MplPath.MOVETO] + [MplPath.LINETO] * (len(coords) - 2) + [MplPath.CLOSEPOLY]
            )
    if not vertices:
        return None
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


def _draw_polygon(ax, geometry, **style) -> None:
    path = _polygon_path(geometry)
    if path is not None:
        ax.add_patch(PathPatch(path, **style))


def _scale_bar(ax, xmin, xmax, ymin, ymax) -> None:
    width = xmax - xmin
    nice = [50, 100, 200, 250, 500, 1000, 2000, 5000]
    length = max(n for n in nice if n <= width / 4) if width >= 200 else 50
    x0, y0 = xmin + width * 0.05, ymin + (ymax - ymin) * 0.05
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=3, solid_capstyle="butt")
    ax.plot([x0, x0 + length / 2], [y0, y0], color="white", linewidth=1.2, solid_capstyle="butt")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length} m"
    ax.text(
        x0 + length / 2, y0 + (ymax - ymin) * 0.015, label, ha="center", va="bottom", fontsize=8
    )


def _north_arrow(ax, xmin, xmax, ymin, ymax) -> None:
    x = xmax - (xmax - xmin) * 0.06
    y0, y1 = ymax - (ymax - ymin) * 0.16, ymax - (ymax - ymin) * 0.05
    ax.annotate(
        "",
        xy=(x, y1),
        xytext=(x, y0),
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5},
    )
    ax.text(
        x, y1 + (ymax - ymin) * 0.005, "N", ha="center", va="bottom", fontsize=10, fontweight="bold"
    )


def _frame(ax, bounds, margin) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = bounds
    xmin, ymin, xmax, ymax = xmin - margin, ymin - margin, xmax + margin, ymax + margin
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return xmin, xmax, ymin, ymax


def _wards(ax, pack: BoundaryPack, label: bool = False) -> None:
    for _, ward in pack.wards.iterrows():
        _draw_polygon(
            ax, ward.geometry, facecolor="none", edgecolor="#777777", linewidth=0.7, linestyle="--"
        )
        if label:
            point = ward.geometry.representative_point()
            ax.text(
                point.x,
                point.y,
                ward["ward_name"],
                fontsize=5.5,
                color="#555555",
                ha="center",
                va="center",
                clip_on=True,
            )


def draw_patrol_map(ax, patrol: PatrolArea, pack: BoundaryPack) -> None:
    """One patrol area: its outline, incidents, busiest streets, wards, scale and north."""
    xmin, xmax, ymin, ymax = _frame(ax, patrol.polygon.bounds, margin=250)
    _wards(ax, pack, label=True)
    _draw_polygon(
        ax, patrol.polygon, facecolor=PATROL_FILL, edgecolor=PATROL_EDGE, alpha=0.25, linewidth=0
    )
    _draw_polygon(
        ax, patrol.polygon, facecolor="none", edgecolor="black", hatch="///", linewidth=2.2
    )
    if len(patrol.points):
        ax.scatter(
            patrol.points[:, 0],
            patrol.points[:, 1],
            s=14,
            c="black",
            marker="o",
            zorder=3,
            linewidths=0,
        )
    for name, x, y in patrol.street_points:
        ax.annotate(
            name.replace("On or near ", ""),
            (x, y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "black", "lw": 0.5},
            zorder=4,
        )
    _scale_bar(ax, xmin, xmax, ymin, ymax)
    _north_arrow(ax, xmin, xmax, ymin, ymax)


def draw_overview_map(ax, tasking: TaskingPack, pack: BoundaryPack) -> None:
    """Every patrol area in the pack, numbered, over the wards of the chosen areas."""
    wards = pack.wards[pack.wards["area"].isin(tasking.areas)]
    outline = shapely.union_all(wards.geometry.values)
    xmin, xmax, ymin, ymax = _frame(ax, outline.bounds, margin=300)
    _wards(ax, pack, label=len(wards) <= 8)
    _draw_polygon(ax, outline, facecolor="none", edgecolor="black", linewidth=1.2)
    for patrol in tasking.patrol_areas:
        _draw_polygon(
            ax,
            patrol.polygon,
            facecolor=PATROL_FILL,
            edgecolor="black",
            hatch="///",
            linewidth=1.6,
            alpha=0.8,
        )
        point = patrol.centroid
        ax.annotate(
            patrol.id,
            (point.x, point.y),
            xytext=(8, 8),
            textcoords="offset points",
            fontsize=7,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "black", "lw": 0.6},
        )
    _scale_bar(ax, xmin, xmax, ymin, ymax)
    _north_arrow(ax, xmin, xmax, ymin, ymax)


def draw_when(ax, patrol: PatrolArea) -> None:
    """Hour × weekday shading for timed data; monthly bars for month-only data."""
    if patrol.hour_weekday is not None:
        ax.imshow(patrol.hour_weekday, cmap="Greys", aspect="auto", interpolation="nearest")
        ax.set_yticks(range(7), WEEKDAYS, fontsize=7)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)], fontsize=7)
        ax.set_title("Incidents by hour and weekday", fontsize=9)
        return
    labels = [m for m, _ in patrol.monthly]
    values = [0 if v is None else v for _, v in patrol.monthly]
    bars = ax.bar(range(len(values)), values, color="#555555", edgecolor="black")
    for bar, (_, v) in zip(bars, patrol.monthly, strict=True):
        if v is None:
            bar.set_hatch("..")
            bar.set_facecolor("white")
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=0)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("Incidents per month in this patrol area (dotted: no data)", fontsize=9)


def _text_block(fig, x, y, title, lines, width=62, size=8.5) -> float:
    """Write a titled block of wrapped lines from the top-left (figure fractions); returns the new y."""
    fig.text(x, y, title, fontsize=10, fontweight="bold", va="top")
    y -= 0.022
    for line in lines:
        for piece in textwrap.wrap(line, width) or [""]:
            fig.text(x, y, piece, fontsize=size, va="top")
            y -= 0.0155
    return y - 0.008


def why_lines(p: PatrolArea) -> list[str]:
    categories = ", ".join(f"{k} {v}" for k, v in p.categories.items())
    return [
        f"Incidents this period: {p.incidents}; previous period: {p.previous}; mean of the three before: {p.average_3}.",
        f"Trend: {p.trend}. Share of the area's incidents: {p.share_of_area:.0%}.",
        f"Categories: {categories or 'none'}.",
    ]


def where_lines(p: PatrolArea) -> list[str]:
    return [
        "Streets: " + ("; ".join(p.top_streets) or "not recorded") + ".",
        "Wards: " + "; ".join(p.wards) + ".",
        f"Centre: grid reference {p.grid_reference}; {p.lat:.5f}, {p.lon:.5f}.",
    ]


def when_lines(p: PatrolArea) -> list[str]:
    lines = [p.when_note]
    if p.peak_windows:
        lines.append("Peak windows: " + "; ".join(p.peak_windows) + ".")
    return lines


def dosage_lines(p: PatrolArea) -> list[str]:
    when = "within the peak windows" if p.peak_windows else "across the day and evening"
    return [
        f"{p.visits_per_day} visible visit(s) a day of {p.visit_minutes} minutes, at unpredictable times {when}.",
        f"{p.officer_minutes_per_week} officer-minutes a week.",
    ]


def _patrol_log(fig, rect, rows: int = 8) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    headers = ["Date", "Time in", "Time out", "Officer", "Activity", "Outcome"]
    table = ax.table(
        cellText=[[""] * 6 for _ in range(rows)],
        colLabels=headers,
        loc="upper center",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.45)
    ax.set_title("Patrol log", fontsize=10, fontweight="bold", loc="left")


def cover_page(tasking: TaskingPack, pack: BoundaryPack):
    fig = plt.figure(figsize=A4)
    fig.text(0.07, 0.96, "Patrol tasking pack", fontsize=18, fontweight="bold", va="top")
    area_text = ", ".join(tasking.areas)
    lines = [
        f"Area: {area_text}. Group: {tasking.group_label}. Period: {tasking.period.label}.",
        f"Method: {tasking.method}"
        + (
            f" ({', '.join(f'{k}={v}' for k, v in tasking.params.items())})"
            if tasking.params
            else ""
        )
        + ".",
        "Incidents in the period: "
        + "; ".join(f"{a} {n}" for a, n in tasking.totals.items())
        + ".",
        f"{len(tasking.patrol_areas)} patrol area(s); {tasking.patrol_minutes_per_week / 60:.1f} officer-hours of patrol a week.",
        f"Generated {tasking.generated_at}.",
        *tasking.notes,
    ]
    _text_block(fig, 0.07, 0.915, "Summary", lines, width=95)
    ax = fig.add_axes([0.07, 0.30, 0.86, 0.45])
    draw_overview_map(ax, tasking, pack)
    rows = [
        [
            p.id,
            str(p.priority),
            str(p.incidents),
            p.trend,
            textwrap.shorten("; ".join(p.top_streets), 48),
        ]
        for p in tasking.patrol_areas
    ]
    table_ax = fig.add_axes([0.07, 0.04, 0.86, 0.22])
    table_ax.axis("off")
    if rows:
        table = table_ax.table(
            cellText=rows,
            colLabels=["ID", "Priority", "Incidents", "Trend", "Streets"],
            loc="upper center",
            cellLoc="left",
            colWidths=[0.14, 0.09, 0.1, 0.13, 0.54],
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.scale(1, 1.3)
    fig.text(
        0.07,
        0.015,
        "Contains public sector information licensed under the OGL v3.0 (data.police.uk); contains OS data © Crown copyright and database right.",
        fontsize=6,
    )
    return fig


def patrol_page(patrol: PatrolArea, tasking: TaskingPack, pack: BoundaryPack):
    fig = plt.figure(figsize=A4)
    fig.text(
        0.07,
        0.965,
        f"{patrol.id}  ·  priority {patrol.priority}  ·  {patrol.trend}",
        fontsize=15,
        fontweight="bold",
        va="top",
    )
    fig.text(
        0.07,
        0.94,
        f"{patrol.area} · {tasking.group_label} · {tasking.period.label}",
        fontsize=9,
        va="top",
    )
    ax = fig.add_axes([0.52, 0.55, 0.42, 0.37])
    draw_patrol_map(ax, patrol, pack)
    y = 0.915
    y = _text_block(fig, 0.07, y, "Why", why_lines(patrol), width=52)
    y = _text_block(fig, 0.07, y, "Where", where_lines(patrol), width=52)
    y = _text_block(fig, 0.07, y, "When", when_lines(patrol), width=52)
    y = _text_block(fig, 0.07, y, "Dosage", dosage_lines(patrol), width=52)
    when_ax = fig.add_axes([0.1, 0.36, 0.84, 0.13])
    draw_when(when_ax, patrol)
    _text_block(
        fig, 0.07, 0.32, "Suggested tactics", [f"• {t}" for t in patrol.tactics], width=110, size=8
    )
    _patrol_log(fig, [0.07, 0.02, 0.86, 0.19])
    return fig


def pdf_bytes(tasking: TaskingPack, pack: BoundaryPack) -> bytes:
    """The pack as an A4 PDF: a cover, then one page per patrol area."""
    buffer = io.BytesIO()
    with PdfPages(
        buffer,
        metadata={
            "Title": f"Tasking pack {tasking.group_label} {tasking.period.label}",
            "Creator": "hotspots",
        },
    ) as pdf:
        for figure in [cover_page(tasking, pack)] + [
            patrol_page(p, tasking, pack) for p in tasking.patrol_areas
        ]:
            pdf.savefig(figure)
            plt.close(figure)
    return buffer.getvalue()


def _png_data_uri(draw, size, rect=(0.01, 0.01, 0.98, 0.98)) -> str:
    fig = plt.figure(figsize=size)
    ax = fig.add_axes(list(rect))
    draw(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def html_document(
    tasking: TaskingPack,
    pack: BoundaryPack,
    pdf_url: str | None = None,
    issue: dict | None = None,
) -> str:
    """The pack as a printable HTML page (A4, one patrol area per page); maps as embedded PNG.

    ``issue`` (served pages only): ``url``, ``csrf_token``, ``fields`` and ``issued`` for the
    screen-only "Issue this pack" form.
    """
    overview = _png_data_uri(lambda ax: draw_overview_map(ax, tasking, pack), (7.0, 5.2))
    pages = []
    for patrol in tasking.patrol_areas:
        pages.append(
            {
                "patrol": patrol,
                "map": _png_data_uri(lambda ax, p=patrol: draw_patrol_map(ax, p, pack), (4.2, 4.2)),
                "when": _png_data_uri(
                    lambda ax, p=patrol: draw_when(ax, p), (7.0, 1.8), (0.07, 0.18, 0.9, 0.68)
                ),
                "why": why_lines(patrol),
                "where": where_lines(patrol),
                "when_lines": when_lines(patrol),
                "dosage": dosage_lines(patrol),
            }
        )
    return _TEMPLATES.get_template("tasking.html").render(
        tasking=tasking, overview=overview, pages=pages, pdf_url=pdf_url, issue=issue
    )


def trend_chart(assessment) -> str:
    """Monthly counts (ASB, violence, total crime) as a PNG data URI; gaps where months lack data."""
    fig = plt.figure(figsize=(7.5, 2.8))
    ax = fig.add_axes([0.07, 0.22, 0.9, 0.68])
    monthly = assessment.monthly
    x = range(len(monthly))
    styles = {
        "total_crime": ("-", "o", "Total crime (excl. ASB)"),
        "asb": ("--", "s", "ASB"),
        "violence": (":", "^", "Violence"),
    }
    for column, (line, marker, label) in styles.items():
        values = [float("nan") if pd.isna(v) else float(v) for v in monthly[column]]
        ax.plot(x, values, linestyle=line, marker=marker, color="black", label=label, markersize=4)
    ax.set_xticks(
        list(x),
        [m if i % 2 == 0 else "" for i, m in enumerate(monthly["month"])],
        fontsize=7,
        rotation=45,
    )
    ax.tick_params(axis="y", labelsize=7)
    ax.axvline(len(assessment.previous.months) - 0.5, color="grey", linewidth=0.8)
    ax.legend(fontsize=7, frameon=False, ncol=3, loc="upper left")
    ax.set_title("Incidents per month (gaps: no data)", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def report_html(
    assessment,
    links: dict | None = None,
    targets_url: str | None = None,
    args: dict | None = None,
    csrf_token: str = "",
) -> str:
    """The strategic assessment as a printable HTML page (with a targets form when served)."""
    return _TEMPLATES.get_template("report.html").render(
        a=assessment,
        chart=trend_chart(assessment),
        links=links or {},
        targets_url=targets_url,
        args=args or {},
        csrf_token=csrf_token,
    )
