"""Step 2: combine the validated layers with geopandas.

Geometry tells what it can: the neighbours of the focus country are derived with a spatial
predicate, every point is located in its country with a spatial join, and a base whose point
lies outside the country it is said to be in is flagged. The map gets simplified copies
(shared borders stay shared); exports keep the full-precision frames.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import shapely

from geo.load import COUNTRY_FIELD, Layer
from geo.problems import Problem, StoryError
from geo.story import StoryConfig

if TYPE_CHECKING:
    import folium

    from geo.build import BuildResult
    from geo.scene import LayerScene

WEB_TOLERANCE = 0.01  # degrees, about 1.1 km: a pixel at zoom 7, a few at the map's max zoom 9
WEB_GRID = 1e-4  # degrees, about 11 m
POINT_GRID = 1e-5


@dataclass(frozen=True)
class Story:
    """A validated, combined story: everything the outputs need, derived once.

    Made by ``geo.read_story(folder)`` or ``geo.story_from_frames(...)``. Its methods are the
    Python API's outputs; a notebook shows the map inline (``_repr_html_``).
    """

    config: StoryConfig
    layers: tuple[Layer, ...]
    warnings: tuple[Problem, ...]
    focus: str | None  # name of the focus country
    neighbours: tuple[str, ...]  # countries whose geometry touches the focus country

    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        return next(layer for layer in self.layers if layer.name == name)

    @cached_property
    def scenes(self) -> tuple[LayerScene, ...]:
        """Every layer as its kind draws it."""
        from geo.kindmods import story_scenes

        return story_scenes(self)

    def to_folium(self, tiles: str | None = None) -> folium.Map:
        """The map as a folium.Map, inside its page: add markers or plugins, then ``.save()``."""
        from geo.chapters import chapter_documents
        from geo.render import to_folium

        return to_folium(self, self.scenes, tiles=tiles, chapters=chapter_documents(self))

    def to_html(self, tiles: str | None = None) -> str:
        """The whole page, one self-contained HTML file, as text."""
        return self.to_folium(tiles).get_root().render()

    def preview(self, path: str | Path | None = None) -> bytes:
        """The 1200x630 PNG preview; also written to ``path`` when given."""
        from geo.preview import write_preview

        buffer = io.BytesIO()
        write_preview(self, self.scenes, buffer)
        if path is not None:
            Path(path).write_bytes(buffer.getvalue())
        return buffer.getvalue()

    def publish(self, out_dir: str | Path, **options: Any) -> BuildResult:
        """Write page, preview, embeds and data into ``out_dir`` atomically, as the command
        line does; ``options``: exports, tiles, base_url, log (see geo.build.publish)."""
        from geo.build import publish

        return publish(self, out_dir, **options)

    def _repr_html_(self) -> str:
        return self.to_folium()._repr_html_()


def combine(config: StoryConfig, layers: list[Layer], warnings: list[Problem]) -> Story:
    """Derive neighbours and countries, check bases against them, prepare web geometries."""
    warnings = list(warnings)
    errors: list[Problem] = []
    world = _country_polygons(layers)
    focus, neighbours = _neighbours(layers, world, warnings)
    located = [_locate(layer, world, errors, warnings) for layer in layers]
    if errors:
        raise StoryError(errors)
    webbed = tuple(replace(layer, web=_web_frame(layer, warnings)) for layer in located)
    return Story(config, webbed, tuple(warnings), focus, neighbours)


def _country_polygons(layers: list[Layer]) -> gpd.GeoDataFrame:
    """Every country polygon in the story (countries and context layers): name, iso_a3."""
    frames = [
        _with_geometry(layer.frame, ["name", "iso_a3"])
        for layer in layers
        if layer.config.kind in ("countries", "context") and "iso_a3" in layer.frame
    ]
    if not frames:
        return gpd.GeoDataFrame({"name": [], "iso_a3": []}, geometry=[], crs="EPSG:4326")
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _with_geometry(frame: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """Some columns and the geometry as 'geometry' (a layer's own column may be named otherwise,
    when a property is called "geometry")."""
    return gpd.GeoDataFrame(frame[columns], geometry=frame.geometry.values, crs=frame.crs)


def _neighbours(
    layers: list[Layer], world: gpd.GeoDataFrame, warnings: list[Problem]
) -> tuple[str | None, tuple[str, ...]]:
    countries = next((lay for lay in layers if lay.config.kind == "countries"), None)
    if countries is None:
        return None, ()
    frame = countries.frame
    focus_rows = frame[frame["role"] == "focus"]
    if len(focus_rows) != 1:
        warnings.append(
            Problem(
                countries.where,
                f"expected exactly one country with role 'focus', found {len(focus_rows)}",
                field="role",
            )
        )
        return None, ()
    focus = focus_rows.iloc[0]
    others = world[world["iso_a3"] != focus["iso_a3"]]
    touching = others[others.intersects(focus.geometry)]
    derived = tuple(sorted(touching["name"]))
    declared = set(frame.loc[frame["role"] == "neighbour", "name"])
    name = focus["name"]
    mismatches = (
        (declared - set(derived), f"role is 'neighbour' but its border does not touch {name}"),
        (set(derived) - declared, f"touches {name} but is not marked role = 'neighbour'"),
    )
    for names, message in mismatches:
        warnings.extend(
            Problem(countries.where, message, feature=f"name {n!r}", field="role")
            for n in sorted(names)
        )
    return name, derived


def _locate(
    layer: Layer, world: gpd.GeoDataFrame, errors: list[Problem], warnings: list[Problem]
) -> Layer:
    """Add the country each point lies in (None in a story without country polygons, so the
    column is always there); check a stated country against the geometry."""
    frame = layer.frame
    if not frame.geom_type.isin(["Point", "MultiPoint"]).all():
        return layer
    frame = frame.copy()
    if world.empty:
        frame[COUNTRY_FIELD] = None
        return replace(layer, frame=frame)
    joined = gpd.sjoin(_with_geometry(frame, []), world, how="left", predicate="intersects")
    first = joined[~joined.index.duplicated(keep="first")]
    frame[COUNTRY_FIELD] = [n if isinstance(n, str) else None for n in first["name"]]
    if "country" in frame and layer.config.kind in ("bases", "places"):
        _check_stated_country(layer, frame, first["iso_a3"], world, errors, warnings)
    return replace(layer, frame=frame)


def _check_stated_country(
    layer: Layer,
    frame: gpd.GeoDataFrame,
    found: pd.Series,
    world: gpd.GeoDataFrame,
    errors: list[Problem],
    warnings: list[Problem],
) -> None:
    id_field = layer.kind.id_field or "id"
    for i, row in frame.iterrows():
        stated = row["country"]
        area = world.loc[world["iso_a3"] == stated].union_all()
        if stated is None or stated == found.loc[i] or area.is_empty:
            continue
        label = f"id {row.get(id_field)!r} (#{i})"
        point = row.geometry
        swapped = shapely.Point(point.y, point.x)
        where = (
            f"in {frame.loc[i, COUNTRY_FIELD]}"
            if pd.notna(found.loc[i])
            else "in no country of the story"
        )
        if area.intersects(swapped):
            errors.append(
                Problem(
                    layer.where,
                    f"the point (lon {point.x:g}, lat {point.y:g}) lies {where}, not in {stated}; "
                    f"with lon and lat swapped it would lie in {stated}: "
                    "GeoJSON order is [lon, lat]",
                    feature=label,
                    field="geometry",
                )
            )
        else:
            warnings.append(
                Problem(
                    layer.where,
                    f"said to be in {stated} but the point (lon {point.x:g}, lat {point.y:g}) "
                    f"lies {where}",
                    feature=label,
                    field="country",
                )
            )


def _web_frame(layer: Layer, warnings: list[Problem]) -> gpd.GeoDataFrame:
    """A lighter copy for the map: topology-preserving simplification, rounded coordinates."""
    frame = layer.frame
    geoms = frame.geometry.values
    types = set(frame.geom_type.unique())
    if types <= {"Point", "MultiPoint"}:
        simple = shapely.set_precision(geoms, POINT_GRID)
    elif types <= {"Polygon", "MultiPolygon"} and shapely.coverage_is_valid(geoms):
        simple = shapely.set_precision(shapely.coverage_simplify(geoms, WEB_TOLERANCE), WEB_GRID)
    else:
        simple = shapely.set_precision(shapely.simplify(geoms, WEB_TOLERANCE), WEB_GRID)
    web = frame.copy()
    web.geometry = simple
    kept = ~web.geometry.is_empty
    if not kept.all():
        warnings.append(
            Problem(
                layer.where,
                f"{(~kept).sum()} feature(s) too small to show "
                "at map scale were left off the map (they stay in the data export)",
            )
        )
    return web[kept]
