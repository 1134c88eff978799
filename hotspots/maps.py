"""Folium maps that work offline: local Leaflet assets, optional tiles, legends for every layer.

The map is rendered in three parts (head, body, script) so a page template can place it beside
the hotspot table. Text from incident records is HTML-escaped before it reaches any popup or
tooltip. The incidents layer is empty until the user switches it on; it then fetches its points
from the API, so the page does not carry thousands of markers nobody looks at.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import folium
import numpy as np
from branca.element import MacroElement, Template
from folium.map import Layer

from hotspots.dashboard import MapView, to_wgs84_geojson
from hotspots.geocode import bng_to_lonlat
from hotspots.methods.base import HOTSPOT_COLUMNS

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

# Sequential colour ramps (ColorBrewer YlOrRd and Purples, 5 classes).
WARD_COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
SURFACE_COLOURS = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"]
HOTSPOT_COLOUR = "#d7301f"
SURFACE_UNITS = {
    "grid": "incidents per cell",
    "kde": "incidents per km²",
    "gistar": "Gi* z-score",
    "prospective": "recency-weighted risk",
}


@dataclass(frozen=True)
class Assets:
    """Where the page's own copies of Leaflet and its plugins are served."""

    leaflet_js: str
    leaflet_css: str
    markercluster_js: str
    markercluster_css: str
    markercluster_default_css: str


@dataclass
class RenderedMap:
    head: str
    body: str
    script: str


def _breaks(values: np.ndarray, classes: int = 5) -> list[float]:
    """Quantile class breaks over the positive values (at least two distinct edges)."""
    positive = np.asarray(values, dtype=float)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if not len(positive):
        return [0.0, 1.0]
    edges = np.unique(np.quantile(positive, np.linspace(0, 1, classes + 1)))
    return edges.tolist() if len(edges) > 1 else [0.0, float(edges[0])]


def _class_of(value: float, edges: list[float]) -> int:
    if not np.isfinite(value) or value <= 0:
        return -1
    return int(min(np.searchsorted(edges, value, side="right") - 1, len(edges) - 2))


class LazyIncidents(Layer):
    """A marker-cluster layer that loads its incidents from ``url`` the first time it is shown."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({maxClusterRadius: 40});
        {{ this.get_name() }}.on('add', function () {
            var layer = this;
            if (layer._loaded) { return; }
            layer._loaded = true;
            fetch({{ this.url|tojson }}, {credentials: 'same-origin'})
                .then(function (response) { return response.json(); })
                .then(function (data) {
                    var markers = L.geoJSON(data, {
                        pointToLayer: function (feature, latlng) {
                            return L.circleMarker(latlng, {radius: 5, color: '#333', weight: 1,
                                                           fillColor: '#2b8cbe', fillOpacity: 0.9});
                        },
                        onEachFeature: function (feature, marker) {
                            var p = feature.properties, box = document.createElement('div');
                            [['Category', p.category], ['When', p.occurred], ['Where', p.location]]
                                .forEach(function (row) {
                                    var line = document.createElement('div');
                                    var label = document.createElement('b');
                                    label.textContent = row[0] + ': ';
                                    line.appendChild(label);
                                    line.appendChild(document.createTextNode(row[1] || ''));
                                    box.appendChild(line);
                                });
                            marker.bindPopup(box);
                        }
                    });
                    layer.addLayer(markers);
                    document.body.dataset.incidentsLoaded = String(data.features.length);
                });
        });
        {% endmacro %}
        """
    )

    def __init__(self, url: str, name: str = "Incidents", show: bool = False):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LazyIncidents"
        self.url = url


class Legend(MacroElement):
    """A legend box listing every coloured layer's classes."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div class="map-legend" id="{{ this.get_name() }}">{{ this.content }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var box = document.getElementById({{ this.get_name()|tojson }});
            var control = L.control({position: 'bottomright'});
            control.onAdd = function () { return box; };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, content: str):
        super().__init__()
        self._name = "Legend"
        self.content = content


def _legend_rows(title: str, edges: list[float], colours: list[str], fmt: str) -> str:
    rows = [f"<div class='legend-title'>{html.escape(title)}</div>"]
    for i in range(len(edges) - 1):
        low, high = fmt.format(edges[i]), fmt.format(edges[i + 1])
        rows.append(
            f"<div><span class='swatch' style='background:{colours[i]}'></span>{low} – {high}</div>"
        )
    return "".join(rows)


def _escaped(frame, columns):
    out = frame.copy()
    for column in columns:
        out[column] = [html.escape(str(v)) for v in out[column]]
    return out


def build_map(
    view: MapView, assets: Assets, incidents_url: str, tiles: str | None = OSM_TILES
) -> folium.Map:
    """The neighbourhood map for a view: wards, hotspots with ranks, the surface, incidents."""
    lat, lon = _corners(view)
    fmap = folium.Map(
        location=[float(np.mean(lat)), float(np.mean(lon))],
        tiles=None,
        control_scale=True,
        maxZoom=19,  # the marker clusters need it even when there is no tile layer
        prefer_canvas=False,
        zoom_control=True,
    )
    fmap.default_js = [("leaflet", assets.leaflet_js), ("markercluster", assets.markercluster_js)]
    fmap.default_css = [
        ("leaflet_css", assets.leaflet_css),
        ("markercluster_css", assets.markercluster_css),
        ("markercluster_default_css", assets.markercluster_default_css),
    ]
    if tiles:
        attribution = OSM_ATTRIBUTION if tiles == OSM_TILES else "Map tiles"
        folium.TileLayer(
            tiles=tiles, attr=attribution, name="Basemap", control=False, max_zoom=19
        ).add_to(fmap)

    legend = []

    # Wards: choropleth of the rate per 1,000 residents.
    wards = view.wards.copy()
    ward_edges = _breaks(wards["rate_per_1000"].to_numpy())
    wards["fill"] = [
        WARD_COLOURS[c] if c >= 0 else "#ffffff"
        for c in (_class_of(v, ward_edges) for v in wards["rate_per_1000"])
    ]
    wards["rate_text"] = wards["rate_per_1000"].map(
        lambda v: f"{v:.1f}" if np.isfinite(v) else "n/a"
    )
    wards = _escaped(wards, ["ward_name", "area", "change"])
    ward_layer = folium.FeatureGroup(name="Wards: rate per 1,000", show=True)
    folium.GeoJson(
        to_wgs84_geojson(
            wards[
                [
                    "ward_name",
                    "area",
                    "incidents",
                    "previous",
                    "change",
                    "rate_text",
                    "fill",
                    "geometry",
                ]
            ]
        ),
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "color": "#555",
            "weight": 1,
            "fillOpacity": 0.45,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["ward_name", "incidents", "rate_text", "change"],
            aliases=["Ward", "Incidents", "Rate per 1,000", "Change on previous period"],
        ),
        name="wards",
    ).add_to(ward_layer)
    ward_layer.add_to(fmap)
    legend.append(
        _legend_rows("Wards: incidents per 1,000 residents", ward_edges, WARD_COLOURS, "{:.1f}")
    )

    # Surface: the method's grid, semi-transparent, in metres (never a zoom-dependent heatmap).
    surface = view.result.surface
    if surface is not None and len(surface):
        cells = surface[surface["value"] > 0].copy()
        edges = _breaks(cells["value"].to_numpy())
        cells["fill"] = [SURFACE_COLOURS[max(_class_of(v, edges), 0)] for v in cells["value"]]
        surface_layer = folium.FeatureGroup(name=f"Surface: {view.result.method}", show=True)
        folium.GeoJson(
            to_wgs84_geojson(cells[["fill", "geometry"]]),
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"],
                "stroke": False,
                "fillOpacity": 0.55,
            },
            name="surface",
        ).add_to(surface_layer)
        surface_layer.add_to(fmap)
        unit = SURFACE_UNITS.get(view.result.method, "value")
        title = f"Surface ({view.result.method}): {unit}"
        legend.append(_legend_rows(title, edges, SURFACE_COLOURS, "{:.3g}"))

    # Hotspots: ranked polygons with a rank label and a popup saying why and where.
    hotspot_layer = folium.FeatureGroup(name="Hotspots", show=True)
    hotspots = view.hotspots
    if len(hotspots):
        table = hotspots.copy()
        table["share"] = (table["share_of_incidents"] * 100).round(1).astype(str) + "%"
        table = _escaped(table, ["wards", "top_streets", "trend"])
        table["top_streets"] = table["top_streets"].str.replace("; ", "<br>", regex=False)
        columns = ["rank", "incidents", "share", "trend", "wards", "top_streets", "geometry"]
        folium.GeoJson(
            to_wgs84_geojson(table[columns]),
            style_function=lambda f: {
                "className": "hotspot-area",
                "color": HOTSPOT_COLOUR,
                "weight": 3,
                "fillColor": HOTSPOT_COLOUR,
                "fillOpacity": 0.25,
            },
            popup=folium.GeoJsonPopup(
                fields=["rank", "incidents", "share", "trend", "wards", "top_streets"],
                aliases=["Hotspot", "Incidents", "Share", "Trend", "Wards", "Top streets"],
                max_width=360,
            ),
            name="hotspots",
        ).add_to(hotspot_layer)
        points = hotspots.geometry.representative_point()
        label_lon, label_lat = bng_to_lonlat(points.x.to_numpy(), points.y.to_numpy())
        for rank, x, y in zip(hotspots["rank"], label_lon, label_lat, strict=True):
            folium.Marker(
                [float(y), float(x)],
                icon=folium.DivIcon(
                    html=f"<div class='rank-label'>{int(rank)}</div>",
                    icon_size=(24, 24),
                    icon_anchor=(12, 12),
                ),
                interactive=False,
            ).add_to(hotspot_layer)
    hotspot_layer.add_to(fmap)
    legend.append(
        f"<div class='legend-title'>Hotspots</div><div><span class='swatch' style='border:3px solid {HOTSPOT_COLOUR}'></span>"
        "ranked patrol areas (1 = busiest)</div>"
    )

    LazyIncidents(incidents_url).add_to(fmap)
    legend.append(
        "<div class='legend-title'>Incidents</div><div><span class='dot'></span>one incident (layer off by default)</div>"
    )
    folium.LayerControl(collapsed=False).add_to(fmap)
    Legend("".join(legend)).add_to(fmap)
    fmap.fit_bounds([[float(lat[0]), float(lon[0])], [float(lat[1]), float(lon[1])]])
    return fmap


def _corners(view: MapView) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes of the study area's south-west and north-east corners."""
    minx, miny, maxx, maxy = view.boundary.geometry.bounds
    lon, lat = bng_to_lonlat([minx, maxx], [miny, maxy])
    return lat, lon


def render(fmap: folium.Map) -> RenderedMap:
    """The map's head (assets, CSS), body (the map div) and script, for a page template."""
    root = fmap.get_root()
    root.render()
    return RenderedMap(
        head=root.header.render(), body=root.html.render(), script=root.script.render()
    )


def hotspot_features(view: MapView) -> dict:
    """The hotspots as GeoJSON (WGS84) for the API, with plain (unescaped) properties."""
    table = view.hotspots.copy()
    keep = [*HOTSPOT_COLUMNS[:2], "previous", "trend", *HOTSPOT_COLUMNS[2:]]
    table = table[[c for c in keep if c in table.columns]]
    collection = to_wgs84_geojson(table)
    return json.loads(json.dumps(collection, default=float))
