"""The web page: a ``folium.Map`` that draws the story's scenes, in one self-contained file.

The scenes reach the browser as one JSON document (:mod:`geo.contract`) that the page template
writes in a ``<script type="application/json">``; ``story.js`` draws it. folium builds the page
around it, so a notebook user can take the map from :func:`to_folium`, add markers or plugins,
and save it. A Content-Security-Policy allows only the scripts the page holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import folium
from branca.element import Element, Figure
from folium.template import Template

from geo import assets, csp, pages
from geo.chart import Chart, chart
from geo.combine import Story
from geo.contract import ChapterDoc, page_document, to_json
from geo.dates import as_written, parse_iso
from geo.figures import FigureTable
from geo.folium_compat import OfflineMap, js_string, stable_ids
from geo.kinds import kinds
from geo.scene import LayerScene, TextSection, key_rows
from geo.story import StoryConfig
from geo.text import format_date
from geo.tiles import tile_layer, tile_provider
from geo.view import SEA, view_bounds

MAX_ZOOM = 9  # the story's own layers carry no detail beyond this
TILES_MAX_ZOOM = 14
DATA_ID = "gs-data"  # the element that holds the page document


LISTING_LIMIT = 1_000  # events in the text version; beyond this, the page grows by megabytes


@dataclass(frozen=True)
class DataLink:
    label: str  # the file's format
    href: str
    stem: str = ""  # a layer's or table's file: its name without the ending (whose data)


@dataclass(frozen=True)
class DataGroup:
    """A line of 'Get the data': a layer's (or a table's, or the whole map's) files."""

    title: str
    links: tuple[DataLink, ...]
    base: bool = False  # a base layer's: listed last, folded under "Base layers"


@dataclass(frozen=True)
class FiguresView:
    """A figures table as the text version shows it: its chart (None when no figure gives a
    number) and the table; ``id`` prefixes its element ids."""

    id: str
    table: FigureTable
    chart: Chart | None


def to_folium(
    story: Story,
    scenes: Sequence[LayerScene],
    data_links: Sequence[DataLink] = (),
    tiles: str | None = None,
    preview: str | None = None,
    chapters: Sequence[ChapterDoc] = (),
) -> StoryMap:
    """The story as a folium.Map inside its page; ``.save(path)`` writes the whole page."""
    page = StoryPage(story, scenes, data_links, preview, tiles, chapters)
    fmap = StoryMap()
    page.add_child(fmap, name="map")
    if tiles:
        tile_layer(tiles).add_to(fmap)
    return fmap


class StoryPage(Figure):
    """The page: title, the map, credit line, data links, the text version, and the page
    document. Rendered once by Jinja (unlike element scripts), with autoescaping."""

    def __init__(
        self,
        story: Story,
        scenes: Sequence[LayerScene],
        data_links: Sequence[DataLink],
        preview: str | None,
        tiles: str | None,
        chapters: Sequence[ChapterDoc] = (),
    ) -> None:
        super().__init__()
        self._template = pages.template("page.html")
        self.config = story.config
        self.data_links = data_links
        groups = data_groups(story, data_links)
        self.data_own = [g for g in groups if not g.base]
        self.data_base = [g for g in groups if g.base]
        self.key = key_lines(scenes)
        self.approximate = any(
            s.in_legend and (s.ring_field or "precision_text" in s.frame) for s in scenes
        )
        self.data_as_of = data_as_of(story.config)
        self.preview = preview
        self.tiles = tiles
        self.data_id = DATA_ID
        listing = sorted((entry for s in scenes for entry in s.listing), key=lambda e: e["sort"])
        # a large layer's text version lists its first events and leads to its CSV for the rest
        self.listing_total = len(listing)
        self.listing = listing[:LISTING_LIMIT]
        self.listing_csv = (
            [
                link
                for link in data_links
                if link.href.endswith(".csv") and link.stem in {e["layer"] for e in listing}
            ]
            if len(listing) > LISTING_LIMIT
            else []
        )
        # the other kinds' parts of the text version, the top layer first (as in the legend)
        self.text_sections: list[TextSection] = [
            s.text_section for s in reversed(scenes) if s.text_section is not None
        ]
        self.figure_tables = [
            FiguresView(f"gs-figures-{i}", t, chart(t, f"gs-figures-{i}-chart"))
            for i, t in enumerate(story.config.tables, start=1)
        ]
        self.layer_sources = [lay.config for lay in story.layers if lay.config.source_name]
        self.styles = assets.stylesheets()
        max_zoom = MAX_ZOOM if tiles is None else TILES_MAX_ZOOM
        document = page_document(scenes, view_bounds(story), max_zoom, SEA, chapters)
        large = any("packed" in layer for layer in document["layers"])
        scripts = assets.scripts(story.config.language, large)
        self.scripts = [s.replace("</script", "<\\/script") for s in scripts]
        self.data_json = to_json(document)

    def render(self, **kwargs) -> str:
        stable_ids(self)
        icon = assets.default_icon()
        if icon not in self.scripts and any(isinstance(c, folium.Marker) for c in _tree(self)):
            self.scripts.append(icon)  # a notebook user's folium.Marker, offline
        page = super().render(**kwargs)
        return csp.with_policy(page, images=[u for u in (self.preview, self._tile_url()) if u])

    def _tile_url(self) -> str | None:
        return tile_provider(self.tiles).build_url() if self.tiles else None


def _tree(element: Element) -> Iterator[Element]:
    """The element's descendants."""
    for child in element._children.values():
        yield child
        yield from _tree(child)


class StoryMap(OfflineMap):
    """The story's Leaflet map, drawn by ``GeoStory.map`` from the page document."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gs-map" id="{{ this.get_name() }}"></div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoStory.map({{ this.name_js }}, {{ this.data_js }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__(tiles=None)

    @property
    def name_js(self) -> str:
        return js_string(self.get_name())

    @property
    def data_js(self) -> str:
        return js_string(DATA_ID)


# A file's ending -> its format, in the order "Get the data" lists them.
FORMATS = {
    ".geojson": "GeoJSON",
    ".csv": "CSV",
    ".shp.zip": "Shapefile",
    ".fgb": "FlatGeobuf",
    ".parquet": "GeoParquet",
    ".gpkg": "GeoPackage",
    ".kml": "KML",
    ".json": "Data Package (JSON)",
}
WHOLE_MAP = (".gpkg", ".kml", ".json")  # files of the whole story, never of one layer


def data_links(files: Sequence[Path]) -> list[DataLink]:
    """Links for the 'Get the data' list, from the exported files (paths relative to the page),
    each labelled with its format; :func:`data_groups` sorts them by whose data they are."""
    found = []
    for path in files:
        end = next((e for e in FORMATS if path.name.endswith(e)), None)
        if end is not None:
            stem = "" if end in WHOLE_MAP else path.name[: -len(end)]
            link = DataLink(FORMATS[end], path.as_posix(), stem)
            found.append((list(FORMATS).index(end), path.name, link))
    return [link for *_, link in sorted(found)]


def data_groups(story: Story, links: Sequence[DataLink]) -> list[DataGroup]:
    """'Get the data', a line per layer or table with its files: the story's own layers first
    (the top one first), then its figures tables, then the files of the whole story (the
    GeoPackage, KML, the data package), and last the base layers (their kind says so)."""
    from geo.exports.tables import table_names

    owners = [
        (lay.config.title, {lay.name, *table_names(lay)}, kinds()[lay.config.kind].base)
        for lay in reversed(story.layers)
    ] + [(t.title, {t.name}, False) for t in story.config.tables]
    taken: set[str] = set()
    groups = []
    for title, stems, base in owners:
        mine = tuple(link for link in links if link.stem in stems and link.href not in taken)
        taken.update(link.href for link in mine)
        if mine:
            groups.append(DataGroup(title, mine, base))
    whole = tuple(link for link in links if link.href not in taken)
    if whole:
        groups.append(DataGroup("The whole map", whole))
    return [g for g in groups if not g.base] + [g for g in groups if g.base]


# A story value that becomes a CSS colour in the key: drawn only when it is one.
_CSS_COLOUR = re.compile(r"^#[0-9a-fA-F]{3,8}\Z")


@dataclass(frozen=True)
class KeyItem:
    """A swatch and its label in the page's key; ``style`` sets the swatch's colours."""

    swatch: str
    label: str
    style: str


@dataclass(frozen=True)
class KeyLine:
    """A row of the page's key (geo.scene.KeyRow), ready for the template."""

    layer: str
    heading: str | None
    items: tuple[KeyItem, ...]
    show: bool


def key_lines(scenes: Sequence[LayerScene]) -> list[KeyLine]:
    """The key above the map, from the same rows as every other output's key."""

    def colour(value: str | None, otherwise: str) -> str:
        return value if value and _CSS_COLOUR.match(value) else otherwise

    lines = []
    for row in key_rows(scenes):
        items = []
        for e in row.entries:
            fill = colour(e.color, "#888888")
            items.append(KeyItem(e.swatch, e.label, f"--c: {fill}; --s: {colour(e.stroke, fill)}"))
        lines.append(KeyLine(row.layer, row.heading, tuple(items), row.show))
    return lines


def data_as_of(config: StoryConfig) -> tuple[str, str] | None:
    """map.toml's data_as_of as HTML's datetime and as text: ('2026-11', 'November 2026')."""
    parsed = parse_iso(config.data_as_of)
    if parsed is None:
        return None
    return as_written(*parsed), format_date(*parsed)
