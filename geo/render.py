"""The web page: a ``folium.Map`` that draws the story's scenes, in one self-contained file.

The scenes reach the browser as one JSON document (:mod:`geo.contract`) that the page template
writes in a ``<script type="application/json">``; ``story.js`` draws it. folium builds the page
around it, so a notebook user can take the map from :func:`to_folium`, add markers or plugins,
and save it. A Content-Security-Policy allows only the scripts the page holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from branca.element import Figure
from folium.template import Template

from geo import assets, csp, pages
from geo.combine import Story
from geo.contract import ChapterDoc, page_document, to_json
from geo.folium_compat import OfflineMap, js_string, stable_ids
from geo.scene import LayerScene
from geo.tiles import tile_layer, tile_provider
from geo.view import SEA, view_bounds

MAX_ZOOM = 9  # the story's own layers carry no detail beyond this
TILES_MAX_ZOOM = 14
DATA_ID = "gs-data"  # the element that holds the page document


@dataclass(frozen=True)
class DataLink:
    label: str
    href: str


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
        self.preview = preview
        self.tiles = tiles
        self.data_id = DATA_ID
        self.listing = sorted(
            (entry for s in scenes for entry in s.listing), key=lambda e: e["sort"]
        )
        self.layer_sources = [lay.config for lay in story.layers if lay.config.source_name]
        self.styles = assets.stylesheets()
        self.scripts = [s.replace("</script", "<\\/script") for s in assets.scripts()]
        max_zoom = MAX_ZOOM if tiles is None else TILES_MAX_ZOOM
        document = page_document(scenes, view_bounds(story), max_zoom, SEA, chapters)
        self.data_json = to_json(document)

    def render(self, **kwargs) -> str:
        stable_ids(self)
        page = super().render(**kwargs)
        return csp.with_policy(page, images=[u for u in (self.preview, self._tile_url()) if u])

    def _tile_url(self) -> str | None:
        return tile_provider(self.tiles).build_url() if self.tiles else None


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
