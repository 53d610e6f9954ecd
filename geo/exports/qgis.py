"""The scenes' styles written out for desktop GIS: QGIS QML and SLD.

A layer's symbols come from its scene (geo.scene: the style model every output shares): the
kind decided them once, from kinds.toml and map.toml. A scene with categories colours its
features by that field's value; a scene whose features have coloured parts (a site's
operators, geo.statuses.part_colours) colours each row of the data, one part, by the field
naming who it is. Rows that the scene does not draw as points, as they stand for a whole area
(an event placed only to its country), stay in the data but are not drawn: the categorised
renderer classifies them as NULL, which no category matches. QML and SLD are built with
ElementTree, so every value is XML-escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from geo import statuses
from geo.scene import LayerScene, Symbol
from geo.statuses import AreaRule
from geo.text import missing

# QGIS's numbers for geometry types (QgsWkbTypes::GeometryType) and its symbol type names.
QGIS_GEOMETRY = {"point": 0, "line": 1, "polygon": 2}
QGIS_SYMBOL = {"point": "marker", "line": "line", "polygon": "fill"}
QGIS_MARKER = {"circle": "circle", "event": "circle", "square": "square", "diamond": "diamond"}


@dataclass(frozen=True)
class Category:
    value: str
    symbol: Symbol


@dataclass(frozen=True)
class LayerStyle:
    """A table's symbology: one symbol, or one per value of ``field``."""

    name: str
    title: str
    geometry: str  # "point", "line" or "polygon"
    symbol: Symbol
    field: str | None = None
    categories: tuple[Category, ...] = ()
    time: tuple[str, str] | None = None  # the table's start and end date fields, for QGIS's
    # temporal controller
    hide: AreaRule | None = None  # the rows not drawn: they stand for a whole area

    def hidden(self, record: dict[str, Any]) -> bool:
        """Whether a row of the table is not drawn (it stands for a whole area)."""
        return self.hide is not None and bool(self.hide.matches([record.get(self.hide.field)])[0])

    def symbol_for(self, value: Any) -> Symbol:
        """The symbol a feature with this ``field`` value is drawn with."""
        return next((c.symbol for c in self.categories if c.value == value), self.symbol)


def layer_style(
    scene: LayerScene,
    geometry: str,
    field: str | None,
    values: Iterable[Any],
    time: tuple[str, str] | None = None,
) -> LayerStyle:
    """The style of a table of ``geometry`` from the layer's scene; ``field`` is the scene's
    category field as the table names it, ``values`` its values there (one category each);
    ``time`` the table's interval fields."""
    base = for_geometry(scene.symbol, geometry)
    hide = statuses.area_rule(scene) if geometry == "point" else None
    parts = statuses.part_colours(scene) if scene.categories is None else None
    if parts is not None:  # each row is one part: coloured by who it is
        field, colours = parts
        neutral = statuses.neutral_colour(scene)
        categories = tuple(
            Category(v, for_geometry(scene.symbol.coloured(c or neutral, "point"), geometry))
            for v, c in sorted(colours.items())
        )
        return LayerStyle(scene.name, scene.title, geometry, base, field, categories, time, hide)
    if scene.categories is None or field is None:
        return LayerStyle(scene.name, scene.title, geometry, base, time=time, hide=hide)
    present = sorted({str(v) for v in values if not missing(v)})
    categories = tuple(
        Category(v, for_geometry(scene.categories.symbol_for(v, scene.symbol), geometry))
        for v in present
    )
    return LayerStyle(scene.name, scene.title, geometry, base, field, categories, time, hide)


def for_geometry(symbol: Symbol, geometry: str) -> Symbol:
    """A layer's symbol for one geometry of it (a plain layer may mix them): points are filled,
    with their stroke colour when the layer has no fill; lines have no fill."""
    if geometry == "point":
        return replace(symbol, fill=symbol.fill or symbol.stroke)
    if geometry == "line":
        return replace(symbol, fill=None, fill_opacity=0.0)
    return symbol


def rgba(colour: str | None, opacity: float) -> tuple[int, int, int, int]:
    """'#rrggbb' and an opacity as 0..255 channels (no colour: fully transparent)."""
    if colour is None:
        return (0, 0, 0, 0)
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return (red, green, blue, round(max(0.0, min(1.0, opacity)) * 255))


# --- QGIS QML -----------------------------------------------------------------------------


def to_qml(style: LayerStyle) -> str:
    """A QGIS layer style document (the ``styleQML`` of a ``layer_styles`` row)."""
    root = ET.Element("qgis", version="3.22.0", styleCategories="Symbology|Temporal")
    if style.field is None and style.hide is None:
        renderer = _element(root, "renderer-v2", type="singleSymbol")
        symbols = _element(renderer, "symbols")
        _qml_symbol(symbols, "0", style.symbol, style.geometry)
    else:
        attr = classified_by(style)
        renderer = _element(root, "renderer-v2", type="categorizedSymbol", attr=attr)
        categories = _element(renderer, "categories")
        symbols = _element(renderer, "symbols")
        if style.field is None:  # one symbol, for every row drawn (the others are NULL)
            _element(
                categories, "category", render="true", symbol="0", value="1", label=style.title
            )
            _qml_symbol(symbols, "0", style.symbol, style.geometry)
        for i, category in enumerate(style.categories):
            _element(
                categories,
                "category",
                render="true",
                symbol=str(i),
                value=category.value,
                label=category.value,
            )
            _qml_symbol(symbols, str(i), category.symbol, style.geometry)
        source = _element(renderer, "source-symbol")
        _qml_symbol(source, "0", style.symbol, style.geometry)
    renderer.attrib.update(symbollevels="0", enableorderby="0", forceraster="0")
    if style.time is not None:
        _qml_temporal(root, *style.time)
    _element(root, "layerGeometryType").text = str(QGIS_GEOMETRY[style.geometry])
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        root, encoding="unicode"
    )


def classified_by(style: LayerStyle) -> str:
    """What the QML's categorised renderer classifies by: the category field, or (rows standing
    for a whole area hidden) an expression that is NULL for those rows, which no category
    matches."""
    value = _quoted(style.field) if style.field is not None else "1"
    if style.hide is None:
        return style.field or value
    listed = ", ".join(_literal(v) for v in style.hide.values)
    return f"CASE WHEN {_quoted(style.hide.field)} IN ({listed}) THEN NULL ELSE {value} END"


def _quoted(field: str) -> str:
    """A field in a QGIS expression: "name", a quote in it doubled."""
    return '"' + field.replace('"', '""') + '"'


def _literal(value: str) -> str:
    """A string in a QGIS expression: 'text', a quote in it doubled."""
    return "'" + value.replace("'", "''") + "'"


def _qml_temporal(root: ET.Element, start: str, end: str) -> None:
    """QGIS's temporal controller shows each feature from its start to the end of its end date.

    The columns are dates, and QGIS 3.22 compares a date with the frame's date-times as text
    ("2023-07-26" < "2023-07-26T00:00:00"), so a field-based setting drops every feature on the
    first day of a frame. Expressions make them date-times: from the start of the first day to
    the start of the day after the last."""
    temporal = _element(
        root,
        "temporal",
        enabled="1",
        mode="4",  # ModeFeatureDateTimeStartAndEndFromExpressions
        # no start: since ever; no end: still going on
        startExpression=f'coalesce(to_datetime("{start}"), make_datetime(1, 1, 1, 0, 0, 0))',
        endExpression=(
            f'coalesce(to_datetime("{end}") + make_interval(days:=1),'
            " make_datetime(9999, 12, 31, 0, 0, 0))"
        ),
        startField="",
        endField="",
        accumulate="0",
        limitMode="0",  # IncludeBeginExcludeEnd: the end is the day after the last
        durationUnit="min",
        fixedDuration="0",
    )
    fixed = _element(temporal, "fixedRange")
    _element(fixed, "start")
    _element(fixed, "end")


def _qml_symbol(parent: ET.Element, name: str, symbol: Symbol, geometry: str) -> None:
    element = _element(
        parent,
        "symbol",
        type=QGIS_SYMBOL[geometry],
        name=name,
        alpha="1",
        clip_to_extent="1",
        force_rhr="0",
    )
    for layer_class, options in _qml_layers(symbol, geometry):
        layer = _element(element, "layer", enabled="1", locked="0")
        layer.attrib.update({"class": layer_class, "pass": "0"})
        option_map = _element(layer, "Option", type="Map")
        for key, value in options.items():
            _element(option_map, "Option", type="QString", name=key, value=value)


def _qml_layers(symbol: Symbol, geometry: str) -> list[tuple[str, dict[str, str]]]:
    """QGIS symbol layers: a marker; a line; or a fill under a (possibly dashed) outline."""
    stroke = _qgis_colour(symbol.stroke, symbol.stroke_opacity)
    fill = _qgis_colour(symbol.fill, symbol.fill_opacity)
    line = {
        "line_color": stroke,
        "line_width": _number(symbol.stroke_width),
        "line_width_unit": "Pixel",
        "line_style": "solid",
        "use_custom_dash": "1" if symbol.dash else "0",
        "customdash": ";".join(_number(d) for d in symbol.dash) or "5;2",
        "customdash_unit": "Pixel",
        "capstyle": "round",
        "joinstyle": "round",
    }
    if geometry == "line":
        return [("SimpleLine", line)]
    if geometry == "polygon":
        fill_layer = {"color": fill, "style": "solid", "outline_style": "no"}
        return [("SimpleFill", fill_layer), ("SimpleLine", line)]
    marker = {
        "name": QGIS_MARKER.get(symbol.shape, "circle"),
        "color": fill,
        "outline_color": stroke,
        "outline_width": _number(symbol.stroke_width),
        "outline_width_unit": "Pixel",
        "outline_style": "dash" if symbol.dash else "solid",
        "size": _number(2 * symbol.radius),
        "size_unit": "Pixel",
        "scale_method": "diameter",
    }
    return [("SimpleMarker", marker)]


def _qgis_colour(colour: str | None, opacity: float) -> str:
    return ",".join(str(c) for c in rgba(colour, opacity))


def _number(value: float) -> str:
    return f"{value:g}"


def _element(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, attributes)


# --- SLD (OGC Symbology Encoding 1.1, as QGIS writes it) -----------------------------------

_SLD = "http://www.opengis.net/sld"
_SE = "http://www.opengis.net/se"
_OGC = "http://www.opengis.net/ogc"
ET.register_namespace("sld", _SLD)
ET.register_namespace("se", _SE)
ET.register_namespace("ogc", _OGC)
_SLD_SYMBOLIZER = {
    "point": "PointSymbolizer",
    "line": "LineSymbolizer",
    "polygon": "PolygonSymbolizer",
}


def to_sld(style: LayerStyle) -> str:
    """The same symbology as SLD (the ``styleSLD`` of a ``layer_styles`` row)."""
    root = ET.Element(f"{{{_SLD}}}StyledLayerDescriptor", version="1.1.0")
    layer = ET.SubElement(root, f"{{{_SLD}}}NamedLayer")
    ET.SubElement(layer, f"{{{_SE}}}Name").text = style.name
    user_style = ET.SubElement(layer, f"{{{_SLD}}}UserStyle")
    ET.SubElement(user_style, f"{{{_SE}}}Name").text = style.name
    type_style = ET.SubElement(user_style, f"{{{_SE}}}FeatureTypeStyle")
    if style.field is None:
        _sld_rule(type_style, style.title, None, style.symbol, style.geometry, style.hide)
    for category in style.categories:
        condition = (style.field or "", category.value)
        _sld_rule(
            type_style, category.value, condition, category.symbol, style.geometry, style.hide
        )
    return ET.tostring(root, encoding="unicode", xml_declaration=False)


def _sld_rule(
    parent: ET.Element,
    name: str,
    condition: tuple[str, str] | None,
    symbol: Symbol,
    geometry: str,
    hide: AreaRule | None = None,
) -> None:
    """A rule: features whose field equals the value (all, without a condition), less those
    ``hide`` picks."""
    rule = ET.SubElement(parent, f"{{{_SE}}}Rule")
    ET.SubElement(rule, f"{{{_SE}}}Name").text = name
    tests: list[ET.Element] = []
    if condition is not None:
        tests.append(_sld_equal(*condition))
    if hide is not None:
        hidden = [_sld_equal(hide.field, v) for v in hide.values]
        either = hidden[0] if len(hidden) == 1 else ET.Element(f"{{{_OGC}}}Or")
        if len(hidden) > 1:
            either.extend(hidden)
        negation = ET.Element(f"{{{_OGC}}}Not")
        negation.append(either)
        tests.append(negation)
    if tests:
        test = tests[0] if len(tests) == 1 else ET.Element(f"{{{_OGC}}}And")
        if len(tests) > 1:
            test.extend(tests)
        ET.SubElement(rule, f"{{{_OGC}}}Filter").append(test)
    symbolizer = ET.SubElement(rule, f"{{{_SE}}}{_SLD_SYMBOLIZER[geometry]}")
    if geometry == "point":
        graphic = ET.SubElement(symbolizer, f"{{{_SE}}}Graphic")
        mark = ET.SubElement(graphic, f"{{{_SE}}}Mark")
        ET.SubElement(mark, f"{{{_SE}}}WellKnownName").text = QGIS_MARKER.get(
            symbol.shape, "circle"
        )
        _sld_fill(mark, symbol)
        _sld_stroke(mark, symbol)
        ET.SubElement(graphic, f"{{{_SE}}}Size").text = _number(2 * symbol.radius)
        return
    if geometry == "polygon":
        _sld_fill(symbolizer, symbol)
    _sld_stroke(symbolizer, symbol)


def _sld_equal(field: str, value: str) -> ET.Element:
    test = ET.Element(f"{{{_OGC}}}PropertyIsEqualTo")
    ET.SubElement(test, f"{{{_OGC}}}PropertyName").text = field
    ET.SubElement(test, f"{{{_OGC}}}Literal").text = value
    return test


def _sld_fill(parent: ET.Element, symbol: Symbol) -> None:
    fill = ET.SubElement(parent, f"{{{_SE}}}Fill")
    _sld_parameter(fill, "fill", symbol.fill or "#000000")
    _sld_parameter(fill, "fill-opacity", _number(symbol.fill_opacity if symbol.fill else 0))


def _sld_stroke(parent: ET.Element, symbol: Symbol) -> None:
    stroke = ET.SubElement(parent, f"{{{_SE}}}Stroke")
    _sld_parameter(stroke, "stroke", symbol.stroke)
    _sld_parameter(stroke, "stroke-opacity", _number(symbol.stroke_opacity))
    _sld_parameter(stroke, "stroke-width", _number(symbol.stroke_width))
    if symbol.dash:
        _sld_parameter(stroke, "stroke-dasharray", " ".join(_number(d) for d in symbol.dash))


def _sld_parameter(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, f"{{{_SE}}}SvgParameter", name=name).text = value
