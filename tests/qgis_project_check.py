"""Open the QGIS project stored in a GeoPackage and print, as JSON, what QGIS makes of it.

Run with Debian's PyQGIS (``/usr/bin/python3 tests/qgis_project_check.py FILE.gpkg NAME OUT.png``,
with ``QT_QPA_PLATFORM=offscreen``); tests/test_gis_package.py asserts on the JSON. The project
is opened the way QGIS's Project > Open From > GeoPackage does (``geopackage:FILE?projectName=
NAME``). The map is then rendered at the project's default view into OUT.png, once with labels
and once without, so the test can tell that the map is drawn and that the labels are.
"""

from __future__ import annotations

import collections
import json
import struct
import sys

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QImage
from qgis_check import renderer, temporal  # beside this script: sys.path[0]

SIZE = (900, 700)


def describe_layer(layer: QgsVectorLayer) -> dict:
    """Validity, source, renderer, labels and temporal settings of one project layer."""
    found: dict = {
        "name": layer.name(),
        "valid": layer.isValid(),
        "source": layer.source(),
        "crs": layer.crs().authid(),
    }
    if not layer.isValid():
        return found
    found["features"] = layer.featureCount()
    found.update(renderer(layer))
    found["labels"] = _labels(layer)
    found.update(temporal(layer))
    return found


def _labels(layer: QgsVectorLayer) -> dict:
    """Whether labels are on, and each set of label settings (one per rule)."""
    labeling = layer.labeling()
    found: dict = {"enabled": layer.labelsEnabled(), "type": labeling.type() if labeling else None}
    rules = []
    if labeling is not None:
        for key in labeling.subProviders():
            settings = labeling.settings(key)
            text = settings.format()
            rules.append(
                {
                    "field": settings.fieldName,
                    "priority": settings.priority,
                    "size": text.size(),
                    "bold": text.font().bold(),
                    "colour": text.color().name(),
                    "halo": text.buffer().enabled(),
                }
            )
    found["rules"] = rules
    return found


def render(project: QgsProject, path: str, labels: bool) -> QImage:
    """The visible layers at the project's default view, as QGIS's map canvas draws them."""
    root = project.layerTreeRoot()
    settings = QgsMapSettings()
    settings.setLayers([lay for lay in root.layerOrder() if root.findLayer(lay.id()).isVisible()])
    settings.setDestinationCrs(project.crs())
    settings.setExtent(project.viewSettings().defaultViewExtent())
    settings.setOutputSize(QSize(*SIZE))
    settings.setBackgroundColor(project.backgroundColor())
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    settings.setFlag(QgsMapSettings.DrawLabeling, labels)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage().convertToFormat(QImage.Format_ARGB32)
    if path:
        image.save(path, "PNG")
    return image


def _pixels(image: QImage) -> list[int]:
    data = bytes(image.constBits().asstring(image.sizeInBytes()))
    return [p for (p,) in struct.iter_unpack("<I", data)]


def main(path: str, name: str, png: str) -> None:
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    ok = project.read(f"geopackage:{path}?projectName={name}")
    result: dict = {"qgis": Qgis.QGIS_VERSION, "read": ok, "error": project.error()}
    root = project.layerTreeRoot()
    result["tree"] = [  # top to bottom, as the Layers panel lists them
        {"id": node.layerId(), "name": node.name(), "visible": node.isVisible()}
        for node in root.findLayers()
    ]
    result["layers"] = {
        node.layerId(): describe_layer(node.layer()) if node.layer() else {"valid": False}
        for node in root.findLayers()
    }
    time = project.timeSettings()
    span = time.temporalRange()
    result["time"] = {
        "start": span.begin().toString("yyyy-MM-ddTHH:mm:ss"),
        "end": span.end().toString("yyyy-MM-ddTHH:mm:ss"),
        "step": time.timeStep(),
        "unit": int(time.timeStepUnit()),  # QgsUnitTypes::TemporalMonths is 6
    }
    view = project.viewSettings().defaultViewExtent()
    result["view"] = [view.xMinimum(), view.yMinimum(), view.xMaximum(), view.yMaximum()]
    result["background"] = project.backgroundColor().name()
    result["title"] = project.title()
    result["crs"] = project.crs().authid()
    labelled = _pixels(render(project, png, labels=True))
    plain = _pixels(render(project, "", labels=False))
    counts = collections.Counter(p & 0xFFFFFF for p in labelled)
    result["render"] = {
        "path": png,
        "size": list(SIZE),
        "colours": len(counts),
        "common": {f"#{c:06x}": n for c, n in counts.most_common(12)},
        "label_pixels": sum(a != b for a, b in zip(labelled, plain, strict=True)),
    }
    print(json.dumps(result), flush=True)
    app.exitQgis()


if __name__ == "__main__":
    main(*sys.argv[1:4])
