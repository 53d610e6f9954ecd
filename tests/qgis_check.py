"""Open a GeoPackage in QGIS and print, as JSON, what QGIS makes of each layer.

Run with Debian's PyQGIS (``/usr/bin/python3 tests/qgis_check.py FILE.gpkg``, with
``QT_QPA_PLATFORM=offscreen``); tests/test_export.py asserts on the JSON. Layers are found
from gpkg_contents (every table with features), then opened the way a user's QGIS opens them:
as ``FILE|layername=NAME``, which loads the layer's default style from ``layer_styles``.
"""

from __future__ import annotations

import json
import sqlite3
import sys

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsDateTimeRange,
    QgsExpression,
    QgsExpressionContextUtils,
    QgsFeatureRequest,
    QgsRenderContext,
    QgsVectorLayer,
    QgsVectorLayerTemporalContext,
)
from qgis.PyQt.QtCore import QDateTime, QTime


def feature_tables(path: str) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY table_name"
        )
        return [name for (name,) in rows]


def describe(path: str, name: str) -> dict:
    """Validity, feature count, stored styles and the renderer QGIS applied on opening."""
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    found = {"valid": layer.isValid(), "features": layer.featureCount()}
    if not layer.isValid():
        return found
    found.update(renderer(layer))  # as opened: QGIS applies the default stored style itself
    count, _ids, names, _descriptions, error = layer.listStylesInDatabase()
    message, loaded = layer.loadDefaultStyle()  # replaces the renderer: read it before
    found.update(
        styles_in_database=list(names)[: max(count, 0)],
        list_error=error,
        default_style_loaded=bool(loaded),
        default_style_message=message,
        geometry_type=int(layer.geometryType()),
    )
    found.update(temporal(layer))
    return found


def temporal(layer: QgsVectorLayer) -> dict:
    """Whether the temporal controller drives the layer, from what, and the ids it shows in a
    frame of one day for each of FRAMES."""
    properties = layer.temporalProperties()
    found: dict = {
        "temporal": [
            properties.isActive(),
            properties.startExpression() or properties.startField(),
            properties.endExpression() or properties.endField(),
        ]
    }
    if properties.isActive() and layer.fields().indexOf("id") >= 0:
        found["missed"] = missed(layer)
    return found


def missed(layer: QgsVectorLayer) -> list[str]:
    """The ids of features the temporal controller hides in a frame of one day on their own
    first or last day (``date_start``, ``date_end``)."""
    properties, context = layer.temporalProperties(), QgsVectorLayerTemporalContext()
    hidden = set()
    for feature in layer.getFeatures():
        for field in ("date_start", "date_end"):
            day = feature[field]
            if day is None or day.isNull():
                continue
            start = QDateTime(day, QTime(0, 0))
            frame = QgsDateTimeRange(start, start.addDays(1), True, False)
            request = QgsFeatureRequest(
                QgsExpression(properties.createFilterString(context, frame))
            ).setFilterFid(feature.id())
            if not any(True for _ in layer.getFeatures(request)):
                hidden.add(str(feature["id"]))
    return sorted(hidden)


def renderer(layer: QgsVectorLayer) -> dict:
    renderer = layer.renderer()
    found: dict = {"renderer": renderer.type()}
    if renderer.type() == "categorizedSymbol":
        categories = renderer.categories()  # keep the copies alive while reading them
        found["field"] = renderer.classAttribute()
        found["categories"] = {str(c.value()): c.symbol().color().name() for c in categories}
        symbol = categories[0].symbol() if categories else None
    else:
        symbol = renderer.symbol()
        found["colour"] = symbol.color().name()
    if symbol is not None:
        found["symbol_layer"] = symbol.symbolLayer(0).layerType()
        found["marker_shape"] = symbol.symbolLayer(0).properties().get("name")
    if layer.fields().indexOf("id") >= 0:
        found["not_drawn"] = not_drawn(layer)
    return found


def not_drawn(layer: QgsVectorLayer) -> list[str]:
    """The ids of the features the layer's renderer leaves out (no symbol for them)."""
    context = QgsRenderContext()
    context.expressionContext().appendScopes(
        QgsExpressionContextUtils.globalProjectLayerScopes(layer)
    )
    renderer = layer.renderer().clone()
    renderer.startRender(context, layer.fields())
    hidden = []
    for feature in layer.getFeatures():
        context.expressionContext().setFeature(feature)
        if not renderer.willRenderFeature(feature, context):
            hidden.append(str(feature["id"]))
    renderer.stopRender(context)
    return sorted(hidden)


def main(path: str) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    result = {name: describe(path, name) for name in feature_tables(path)}
    print(json.dumps({"qgis": Qgis.QGIS_VERSION, "layers": result}), flush=True)
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1])
