/* GeoStory: draws a story's layers on a Leaflet map.
 * Everything it draws comes from Python as JSON; popup HTML is built and escaped there.
 * Text that is not popup HTML (labels, titles) is set with textContent, never innerHTML. */
var GeoStory = (function () {
  "use strict";
  var state = { map: null, events: {}, eventLayer: null, eventGroup: null, embedded: window.self !== window.top };

  function text(tag, className, value) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    el.textContent = value;
    return el;
  }

  function map(id, view) {
    var container = document.getElementById(id);
    container.style.background = view.background;
    var m = L.map(id, {
      zoomSnap: 0.25,
      maxZoom: view.maxZoom,
      minZoom: 2,
      gestureHandling: state.embedded,
    });
    m.fitBounds(view.bounds, { padding: [6, 6] });
    var zoomClass = function () {
      container.classList.toggle("gs-zoomed-out", m.getZoom() < 5.5);
    };
    m.on("zoomend", zoomClass);
    zoomClass();
    state.map = m;
    return m;
  }

  function eventIcon(p) {
    var dot = document.createElement("span");
    dot.className = p.bearing === null || p.bearing === undefined ? "gs-dot" : "gs-arrow";
    dot.style.setProperty("--c", p.color);
    if (dot.className === "gs-arrow") dot.style.transform = "rotate(" + p.bearing + "deg)";
    return L.divIcon({
      className: "gs-event gs-event-" + p.id,
      html: dot,
      iconSize: [18, 18],
      iconAnchor: [9, 9],
      popupAnchor: [0, -8],
    });
  }

  function baseIcon() {
    return L.divIcon({
      className: "gs-base",
      html: '<span class="gs-base-symbol"></span>',
      iconSize: [16, 16],
      iconAnchor: [8, 8],
      popupAnchor: [0, -8],
    });
  }

  function point(spec, f, latlng) {
    var p = f.properties;
    if (spec.symbol === "event") {
      var marker = L.marker(latlng, { icon: eventIcon(p), title: p.title, riseOnHover: true });
      state.events[p.id] = marker;
      return marker;
    }
    if (spec.symbol === "base") {
      var ring = L.circle(latlng, {
        radius: p.radius_m,
        color: spec.style.color,
        weight: 1.5,
        dashArray: spec.style.dashArray,
        fillColor: spec.style.fillColor,
        fillOpacity: spec.style.fillOpacity,
        className: "gs-base-ring",
        interactive: false,
      });
      var symbol = L.marker(latlng, { icon: baseIcon(), title: p.title, riseOnHover: true });
      return L.featureGroup([ring, symbol]);
    }
    var dotStyle = Object.assign({}, spec.style, { className: "gs-point" });
    var dotMarker = L.circleMarker(latlng, dotStyle);
    if (p.title) dotMarker.options.title = p.title;
    return dotMarker;
  }

  function bind(spec, f, layer) {
    var p = f.properties;
    if (spec.interactive === false) return;
    if (p.popup) layer.bindPopup(p.popup, { maxWidth: 300, autoPanPadding: [12, 12] });
    if (p.label && spec.symbol === "dot") {
      var cls = "gs-label gs-place-label gs-rank-" + String(p.rank || "").replace(/\W+/g, "-");
      layer.bindTooltip(text("span", "", p.label), {
        permanent: true,
        direction: "right",
        offset: [5, 0],
        className: cls,
        interactive: false,
      });
    }
  }

  function countryLabel(f) {
    var p = f.properties;
    return L.marker(p.labelAt, {
      icon: L.divIcon({
        className: "gs-label gs-country-label " + (p.labelClass || ""),
        html: text("span", "", p.label),
        iconSize: null,
      }),
      interactive: false,
      keyboard: false,
    });
  }

  /* Events: clustered, but those shown at the map's edge (far away) stand on their own. */
  function eventGroups() {
    var cluster = L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 20,
      spiderfyOnMaxZoom: true,
      spiderfyDistanceMultiplier: 1.6,
    });
    var far = L.featureGroup();
    state.eventLayer = cluster;
    state.eventGroup = L.featureGroup([cluster, far]);
    return {
      addLayer: function (l) {
        (l.feature && l.feature.properties.far ? far : cluster).addLayer(l);
      },
      group: state.eventGroup,
    };
  }

  function layer(m, spec) {
    var target = spec.cluster ? eventGroups() : null;
    var group = target ? target.group : L.featureGroup();
    var add = target ? target.addLayer : group.addLayer.bind(group);
    L.geoJSON(spec.features, {
      interactive: spec.interactive !== false,
      style: function (f) {
        var line = /LineString$/.test(f.geometry.type);
        return Object.assign({}, spec.style, f.properties.style || {}, line ? { fill: false } : {});
      },
      pointToLayer: function (f, latlng) {
        return point(spec, f, latlng);
      },
      onEachFeature: function (f, l) {
        bind(spec, f, l);
      },
    }).eachLayer(add);
    spec.features.forEach(function (f) {
      if (f.properties.labelAt) group.addLayer(countryLabel(f));
    });
    return group;
  }

  function openEvent(id) {
    var marker = state.events[id];
    if (!marker || !state.eventGroup) return;
    if (!state.map.hasLayer(state.eventGroup)) state.map.addLayer(state.eventGroup);
    state.map.getContainer().scrollIntoView({ block: "nearest" });
    if (!state.eventLayer.hasLayer(marker)) return marker.openPopup(); // at the map's edge
    state.eventLayer.zoomToShowLayer(marker, function () {
      marker.openPopup();
    });
  }

  var OPEN_LEGEND = [800, 520]; // smallest map, in pixels, that shows the legend unfolded

  var Legend = L.Control.extend({
    options: { position: "bottomright" },
    initialize: function (html, options) {
      L.setOptions(this, options);
      this._html = html;
    },
    onAdd: function (m) {
      this._map = m;
      var box = L.DomUtil.create("details", "gs-legend");
      var summary = text("summary", "", "Legend");
      box.appendChild(summary);
      var body = L.DomUtil.create("div", "gs-legend-body", box);
      body.innerHTML = this._html; // built and escaped by the Python templates
      var size = this._map.getSize(); // folded into a button where it would hide the story
      box.open = size.x >= OPEN_LEGEND[0] && size.y >= OPEN_LEGEND[1];
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });

  var Fullscreen = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (m) {
      var button = L.DomUtil.create("button", "gs-fullscreen leaflet-bar");
      button.type = "button";
      button.title = "Full screen";
      button.setAttribute("aria-label", "Show the map full screen");
      button.textContent = "⤢";
      L.DomEvent.disableClickPropagation(button);
      L.DomEvent.on(button, "click", function () {
        var box = m.getContainer();
        if (document.fullscreenElement) document.exitFullscreen();
        else if (box.requestFullscreen) box.requestFullscreen();
      });
      document.addEventListener("fullscreenchange", function () {
        m.invalidateSize();
      });
      return button;
    },
  });

  function reportHeight() {
    if (!state.embedded) return;
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    window.parent.postMessage({ type: "geo-story:height", height: height }, "*");
  }

  /* The auto-height snippet answers our first report: then the page takes its natural height
   * (the map's height follows the width, so the loop is stable) and reports every change. */
  function listenForAutoHeight() {
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || !event.data) return;
      if (event.data.type !== "geo-story:auto-height") return;
      document.documentElement.classList.add("gs-autoheight");
      if (window.ResizeObserver) new ResizeObserver(reportHeight).observe(document.body);
      state.map.invalidateSize();
      reportHeight();
    });
  }

  /* A popup opened from the keyboard takes the focus, so its links are reachable by Tab. */
  function focusPopups(m) {
    m.on("popupopen", function (e) {
      var active = document.activeElement;
      if (!active || !active.classList.contains("leaflet-marker-icon")) return;
      var content = e.popup.getElement().querySelector(".leaflet-popup-content");
      content.setAttribute("tabindex", "-1");
      content.focus();
    });
  }

  function controls(m, legendHtml) {
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(m);
    new Fullscreen().addTo(m);
    new Legend(legendHtml).addTo(m);
    Array.prototype.forEach.call(document.querySelectorAll("[data-event]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        openEvent(button.getAttribute("data-event"));
      });
    });
    window.addEventListener("resize", reportHeight);
    focusPopups(m);
    if (state.embedded) listenForAutoHeight();
    reportHeight();
  }

  return { map: map, layer: layer, controls: controls, openEvent: openEvent, state: state };
})();
