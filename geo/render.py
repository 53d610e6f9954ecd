"""Step 3: render the combined story as one self-contained HTML page with folium.

folium builds the page (map, layers, controls); each layer's features reach the browser as JSON
with their popup HTML already built and escaped in Python (see ``popups``). Every value that
enters a script goes through :func:`to_js`, which also hides ``{`` and ``}`` inside strings,
because branca passes each rendered script through Jinja a second time.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import folium
import geopandas as gpd
import shapely
import xyzservices
from branca.element import Element, Figure
from folium.map import Layer as FoliumLayer
from folium.template import Template

from geo import assets, popups
from geo.combine import Story
from geo.load import Layer
from geo.styles import category_colours
from geo.view import SEA, SWATCH, Bounds, geometry_family, label_point, view_bounds

MAX_ZOOM = 9  # the story's own layers carry no detail beyond this
FAR_MARGIN = 2.0  # degrees beyond the view before an event counts as far away
EDGE_INSET = 0.6  # degrees inside the view where a far event's edge marker sits
EDGE_SPREAD = 1.8  # degrees between edge markers that point at the same place (about 24 px)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def to_js(value: Any) -> str:
    """JSON for a <script>: no '</script>', and no '{{', '{%' or '{#' for branca's Jinja pass."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = _STRING.sub(lambda m: m.group(0).replace("{", "\\u007b").replace("}", "\\u007d"), text)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


@dataclass(frozen=True)
class DataLink:
    label: str
    href: str


def render_html(
    story: Story,
    data_links: Sequence[DataLink] = (),
    tiles: str | None = None,
    preview: str | None = None,
) -> str:
    """The whole page as a string; same story, same bytes."""
    view = view_bounds(story)
    figure = StoryFigure(story, data_links, preview)
    fmap = StoryMap(view, max_zoom=MAX_ZOOM if tiles is None else 14)
    figure.add_child(fmap, name="map")
    if tiles:
        _tile_layer(tiles).add_to(fmap)
    legend = []
    for layer in story.layers:
        spec, entries = _PREPARE.get(layer.config.kind, _features)(story, layer, view)
        StoryLayer(layer, spec).add_to(fmap)
        legend.extend(entries)
    folium.LayerControl(position="topright", collapsed=True).add_to(fmap)
    StoryControls(
        popups.render_template("legend.html", entries=legend, approximate=_has_approximate(story))
    ).add_to(fmap)
    _stable_ids(figure)
    return figure.render()


# --- folium elements ---------------------------------------------------------------------------


class StoryFigure(Figure):
    """The page: folium's figure with a title, credit line, data links and event list."""

    def __init__(
        self,
        story: Story,
        data_links: Sequence[DataLink],
        preview: str | None,
    ) -> None:
        super().__init__()
        self._template = popups.template("page.html")
        self.config = story.config
        self.data_links = data_links
        self.preview = preview
        self.events = _event_list(story)
        self.layer_sources = [lay.config for lay in story.layers if lay.config.source_name]
        self.styles = assets.stylesheets()
        self.scripts = [s.replace("</script", "<\\/script") for s in assets.scripts()]


class StoryMap(folium.Map):
    """folium's Map without its CDN links, jQuery call or zoom-locking viewport tag."""

    default_js: ClassVar[list] = []
    default_css: ClassVar[list] = []
    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gs-map" id="{{ this.get_name() }}"></div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoStory.map({{ this.get_name()|tojson }}, {{ this.view_js }});
        {% endmacro %}
    """)

    def __init__(self, view: tuple[float, float, float, float], max_zoom: int) -> None:
        super().__init__(tiles=None, control_scale=False, zoom_control=False)
        self.view_js = to_js(
            {
                "bounds": [[view[1], view[0]], [view[3], view[2]]],
                "maxZoom": max_zoom,
                "background": SEA,
            }
        )


class StoryLayer(FoliumLayer):
    """One story layer: its features as JSON, drawn by GeoStory.layer in story.js."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoStory.layer(
            {{ this._parent.get_name() }}, {{ this.spec_js }});
        {% endmacro %}
    """)

    def __init__(self, layer: Layer, spec: dict[str, Any]) -> None:
        # Leaflet's layer control sets the name as innerHTML, and folium's template is rendered
        # twice by Jinja: escape the HTML and hide braces as character references.
        name = html.escape(layer.config.title).replace("{", "&#123;").replace("}", "&#125;")
        super().__init__(
            name=name, overlay=True, control=layer.config.kind != "context", show=layer.config.show
        )
        self._name = "Layer_" + layer.name
        self.spec_js = to_js(spec)


class StoryControls(folium.MacroElement):
    """Legend, scale bar, fullscreen and the links from the event list into the map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        GeoStory.controls({{ this._parent.get_name() }}, {{ this.legend_js }});
        {% endmacro %}
    """)

    def __init__(self, legend_html: str) -> None:
        super().__init__()
        self._name = "StoryControls"
        self.legend_js = to_js(legend_html)


def tile_provider(name: str) -> xyzservices.TileProvider:
    """The xyzservices provider for --tiles, or a ValueError saying how to pick one."""
    try:
        provider = xyzservices.providers.query_name(name)
    except ValueError:
        provider = None
    if provider is None or not isinstance(provider, xyzservices.TileProvider):
        raise ValueError(
            f"unknown tile provider {name!r}: use a name from xyzservices, "
            "e.g. OpenStreetMap.Mapnik or Esri.WorldGrayCanvas"
        )
    if provider.requires_token():
        raise ValueError(
            f"tile provider {name!r} needs an API key; pick one that does not, "
            "e.g. OpenStreetMap.Mapnik"
        )
    return provider


def _tile_layer(name: str) -> folium.TileLayer:
    provider = tile_provider(name)
    return folium.TileLayer(
        tiles=provider.build_url(scale_factor="{r}"),
        attr=provider.html_attribution,
        name=provider.name,
        overlay=False,
        control=False,
        max_zoom=provider.get("max_zoom", 18),
    )


def _stable_ids(root: Element) -> None:
    """Replace branca's random element ids by their position in the tree: reproducible builds."""
    counter = 0

    def walk(element: Element) -> None:
        nonlocal counter
        element._id = f"{counter}"
        counter += 1
        for child in element._children.values():
            walk(child)

    walk(root)


# --- per-kind preparation: features -> JSON spec + legend entries --------------------------------

Spec = tuple[dict[str, Any], list[dict[str, Any]]]


def _base_spec(layer: Layer, symbol: str, features: list[dict]) -> dict[str, Any]:
    return {
        "name": layer.name,
        "kind": layer.config.kind,
        "symbol": symbol,
        "style": _leaflet_style(layer.config.style),
        "features": features,
    }


def _leaflet_style(style: dict[str, Any]) -> dict[str, Any]:
    keys = {
        "color": "color",
        "fill_color": "fillColor",
        "fill_opacity": "fillOpacity",
        "opacity": "opacity",
        "weight": "weight",
        "radius": "radius",
        "dash_array": "dashArray",
    }
    out = {keys[k]: v for k, v in style.items() if k in keys}
    out["fill"] = "fill_color" in style or "fill_opacity" in style
    return out


def _feature(geometry: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": _geojson(geometry), "properties": props}


def _geojson(geometry: Any) -> dict[str, Any]:
    return json.loads(shapely.to_geojson(shapely.set_precision(geometry, 1e-5)))


def _records(frame: gpd.GeoDataFrame) -> Iterable[tuple[dict[str, Any], Any]]:
    for row in frame.itertuples(index=False):
        record = row._asdict()
        yield record, record.pop("geometry")


def _context(story: Story, layer: Layer, view: Bounds) -> Spec:
    features = [_feature(g) for _, g in _records(layer.web)]
    spec = _base_spec(layer, "area", features)
    spec["interactive"] = False
    return spec, [
        {
            "type": "fill",
            "color": layer.config.style.get("fill_color"),
            "stroke": layer.config.style.get("color"),
            "label": "Other countries",
        }
    ]


def _countries(story: Story, layer: Layer, view: Bounds) -> Spec:
    style = layer.config.style
    focus_style = {
        "color": style["focus_color"],
        "fillColor": style["focus_fill_color"],
        "weight": style["focus_weight"],
    }
    features = []
    for record, geom in _records(layer.web):
        is_focus = record["role"] == "focus"
        features.append(
            _feature(
                geom,
                popup=popups.country_popup(record, story.focus),
                label=record["name"],
                labelAt=label_point(geom, view),
                style=focus_style if is_focus else None,
                labelClass="gs-focus-label" if is_focus else "",
            )
        )
    entries = [
        {
            "type": "fill",
            "color": style["focus_fill_color"],
            "stroke": style["focus_color"],
            "label": story.focus or "Focus",
        },
        {
            "type": "fill",
            "color": style["fill_color"],
            "stroke": style["color"],
            "label": "Neighbours" if story.focus else layer.config.title,
        },
    ]
    return _base_spec(layer, "area", features), entries


def _simple(title_field: str, legend_type: str) -> Callable[..., Spec]:
    """Regions, water and places: a name label or popup, one legend entry."""

    def prepare(story: Story, layer: Layer, view: Bounds) -> Spec:
        fields = [c for c in layer.web.columns if c not in ("geometry", "id")]
        features = [
            _feature(
                g,
                popup=popups.feature_popup(r, fields, title_field),
                label=r.get(layer.config.label) if layer.config.label else None,
                rank=r.get("rank"),
                title=r.get(title_field),
            )
            for r, g in _records(layer.web)
        ]
        style = layer.config.style
        symbol = "dot" if legend_type == "dot" else "area"
        entry = {
            "type": legend_type,
            "color": style.get("fill_color", style.get("color")),
            "stroke": style.get("color"),
            "label": layer.config.title,
        }
        return _base_spec(layer, symbol, features), [entry]

    return prepare


def _bases(story: Story, layer: Layer, view: Bounds) -> Spec:
    features = []
    frame = layer.web
    for site_id in dict.fromkeys(frame["site_id"]):  # first-seen order
        rows = frame[frame["site_id"] == site_id]
        records = [r for r, _ in _records(rows)]
        first = records[0]
        operators = ", ".join(dict.fromkeys(r["operator"] for r in records))
        features.append(
            _feature(
                rows.geometry.iloc[0],
                popup=popups.base_popup(records),
                id=site_id,
                title=f"{first['site']}: {operators}",
                radius_m=first["precision_km"] * 1000,
            )
        )
    style = layer.config.style
    entries = [
        {"type": "base", "color": style["color"], "label": layer.config.title},
        {"type": "ring", "color": style["color"], "label": "Uncertainty of a site's position"},
    ]
    return _base_spec(layer, "base", features), entries


def _events(story: Story, layer: Layer, view: Bounds) -> Spec:
    palette = category_colours(
        layer.config.categories, layer.frame[layer.config.category_field or "category"]
    )
    center = shapely.box(*view).centroid
    features = []
    far_places: list[str] = []
    frame = layer.web.sort_values(["date", "id"], kind="stable")
    for record, geom in _records(frame):
        far = _edge_position(geom, view, center, far_places.count(record["place"]))
        far_note = None
        if far is not None:
            far_places.append(record["place"])
            far_note = (
                f"This happened far outside the map, in {record['place']} "
                f"({_lat_lon_text(geom)}); its marker sits at the map's edge, "
                "pointing the way."
            )
        features.append(
            _feature(
                far[0] if far else geom,
                id=record["id"],
                color=palette[record["category"]],
                title=f"{popups.format_date(record['date'], record['date_precision'])}: "
                f"{record['title']}",
                popup=popups.event_popup(record, far_note),
                bearing=far[1] if far else None,
                far=far is not None,
            )
        )
    entries = [{"type": "event", "color": c, "label": cat} for cat, c in palette.items()]
    if far_places:
        entries.append(
            {
                "type": "arrow",
                "color": "#333333",
                "label": "Event far away (" + ", ".join(dict.fromkeys(far_places)) + ")",
            }
        )
    spec = _base_spec(layer, "event", features)
    spec["cluster"] = True
    return spec, entries


def _edge_position(point: Any, view: Bounds, center: Any, earlier: int) -> tuple[Any, float] | None:
    """For a point far outside the view: where the line towards it leaves the view, and bearing.

    ``earlier`` events at the same place move this one along the edge, so each stays visible.
    """
    minx, miny, maxx, maxy = view
    if (
        minx - FAR_MARGIN <= point.x <= maxx + FAR_MARGIN
        and miny - FAR_MARGIN <= point.y <= maxy + FAR_MARGIN
    ):
        return None
    inner = shapely.box(minx + EDGE_INSET, miny + EDGE_INSET, maxx - EDGE_INSET, maxy - EDGE_INSET)
    ray = shapely.LineString([center, point])
    crossing = shapely.intersection(ray, inner.exterior)
    edge = shapely.get_parts(crossing)[0] if not crossing.is_empty else center
    on_side = math.isclose(edge.x, minx + EDGE_INSET) or math.isclose(edge.x, maxx - EDGE_INSET)
    shift = earlier * EDGE_SPREAD
    x, y = (edge.x, edge.y - shift) if on_side else (edge.x + shift, edge.y)
    bearing = math.degrees(math.atan2(point.x - center.x, point.y - center.y)) % 360
    return shapely.Point(round(x, 4), round(y, 4)), round(bearing, 1)


def _lat_lon_text(point: Any) -> str:
    ns = "N" if point.y >= 0 else "S"
    ew = "E" if point.x >= 0 else "W"
    return f"{abs(point.y):.2f}° {ns}, {abs(point.x):.2f}° {ew}"


def _features(story: Story, layer: Layer, view: Bounds) -> Spec:
    """A plain layer: its colour (see story.py), popups listing its properties."""
    color = layer.config.style["color"]
    fields = list(layer.config.popup or [c for c in layer.web.columns if c != "geometry"])
    title_field = next((f for f in ("name", "title") if f in layer.web.columns), None)
    features = [
        _feature(
            g,
            popup=popups.feature_popup(r, fields, title_field),
            title=str(r.get(title_field)) if title_field else None,
        )
        for r, g in _records(layer.web)
    ]
    family = geometry_family(layer.web)
    spec = _base_spec(layer, "dot" if family == "point" else "area", features)
    return spec, [
        {"type": SWATCH[family], "color": color, "stroke": color, "label": layer.config.title}
    ]


_PREPARE: dict[str, Callable[..., Spec]] = {
    "context": _context,
    "countries": _countries,
    "regions": _simple("name", "dash"),
    "water": _simple("name", "water"),
    "places": _simple("name", "dot"),
    "bases": _bases,
    "events": _events,
}


def _has_approximate(story: Story) -> bool:
    return any(
        "precision_km" in lay.frame or "location_precision" in lay.frame for lay in story.layers
    )


def _event_list(story: Story) -> list[dict[str, Any]]:
    """Every event in date order, for the text alternative under the map."""
    events = story.layer_of_kind("events")
    if events is None:
        return []
    frame = events.frame.sort_values(["date", "id"], kind="stable")
    return [
        {
            **rec,
            "when": popups.format_range(rec["date"], rec.get("end_date"), rec["date_precision"]),
            "link": popups.is_link(rec["source_url"]),
        }
        for rec, _ in _records(frame)
    ]


def data_links(files: Sequence[Path]) -> list[DataLink]:
    """Links for the 'Get the data' list, from the exported files (paths relative to the page)."""
    labels = {
        ".gpkg": "GeoPackage",
        ".geojson": "GeoJSON",
        ".csv": "CSV",
        ".kml": "KML",
        ".zip": "Shapefile",
        ".fgb": "FlatGeobuf",
        ".parquet": "GeoParquet",
    }
    out = []
    for path in sorted(
        files, key=lambda p: (list(labels).index(p.suffix) if p.suffix in labels else 99, p.name)
    ):
        if path.suffix in labels:
            out.append(DataLink(f"{labels[path.suffix]}: {path.name}", path.as_posix()))
    return out
