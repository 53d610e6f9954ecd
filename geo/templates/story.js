/* GeoStory: draws a story's page document (geo/contract.py) on a Leaflet map.
 * Every text from the story is set with textContent, never innerHTML; a link is made only from
 * an http(s) URL. Popups are built on click from the layer's columns and its popup template. */

/**
 * @typedef {{as: "heading"|"text"|"time"|"link"|"table"|"list"|"present"|"details",
 *   field?: string,
 *   fields?: string[], labels?: string[], href?: string, datetime?: string, label?: string,
 *   lang?: string,
 *   class?: string, rows?: PopupRow[], name?: string}} PopupRow
 * @typedef {{color?: string, weight?: number, opacity?: number, fill?: boolean,
 *   fillColor?: string, fillOpacity?: number, dashArray?: string, radius?: number}} LeafletStyle
 * @typedef {{text: string[], lon: number[], lat: number[], priority: number[], role: string[],
 *   rank: string[]}} Labels
 * @typedef {{type: "MultiPolygon"|"MultiLineString"|"Polygon"|"LineString", quantum: number,
 *   coords: string, offsets: number[][]}} ShapesDoc
 * @typedef {{name: string, kind: string, title: string,
 *   symbol: "area"|"line"|"dot"|"site"|"event", shape: string, style: LeafletStyle,
 *   categoryField: ?string, categoryStyles: Object<string, LeafletStyle>, show: boolean,
 *   control: boolean, interactive: boolean, cluster: boolean, count: number,
 *   lon?: number[], lat?: number[], shapes?: ShapesDoc, geometry?: Object[],
 *   columns: Object<string, Array>,
 *   popup: PopupRow[], titleField: ?string, idField: ?string, ringField: ?string,
 *   ringStyle: ?LeafletStyle, bearingField: ?string, farFields: ?Array<string>,
 *   areaField: ?string, vagueField: ?string, labels: Labels,
 *   start: ?Array<?number>, end: ?Array<?number>, countAs: ?string,
 *   timeMode: "filter"|"status"}} LayerDoc
 * @typedef {{bounds: number[][], maxBounds: number[][], filled: boolean,
 *   focus: ?Array<number[]>, maxZoom: number, background: string}} ViewDoc
 * @typedef {{text: string, events: string[]}} Sentence
 * @typedef {{title: string, text: Sentence[], start: ?number, end: ?number,
 *   bounds: ?Array<number[]>, frame: string[], events: string[]}} ChapterDoc
 * @typedef {{version: number, view: ViewDoc, layers: LayerDoc[], chapters: ChapterDoc[]}} PageDoc
 */
var GeoStory = (function () {
  "use strict";
  var state = {
    map: null,
    doc: null,
    layers: {}, // name -> {doc, group, markers: {id: marker}, cluster}
    events: {}, // id -> marker, over every clustered layer (the first layer wins a shared id)
    eventLayer: null, // the first cluster group
    labels: [],
    rings: [], // uncertainty rings, scaled after every zoom
    asides: [], // events not drawn as points: a chip per far place, a badge per country
    range: null, // [first day, last day] the timeline shows, in days since 1970-01-01
    embedded: window.self !== window.top,
  };

  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  /** '16 March 2024' for a day number (days since 1970-01-01). */
  function dayText(day) {
    var d = new Date(day * 86400000);
    return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear();
  }

  function el(tag, className, value) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (value !== undefined && value !== null) node.textContent = String(value);
    return node;
  }

  function isLink(value) {
    return typeof value === "string" && /^https?:\/\/[^\s/?#]+/i.test(value.trim());
  }

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function present(value) {
    return value !== null && value !== undefined && value !== "";
  }

  /* --- popups: one template per layer, filled from the columns ---------------------------- */

  function link(text, href) {
    if (!isLink(href)) return document.createTextNode(String(text));
    var a = el("a", "", text);
    a.href = href.trim();
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  /** @param {PopupRow} row @param {function(string): *} get */
  function popupRow(row, get) {
    var value = row.field ? get(row.field) : null;
    if (row.as === "table") return popupTable(row.fields || [], row.labels || [], get);
    if (row.as === "list") {
      if (!value || !value.length) return null;
      var list = el("ul", row["class"] || "");
      value.forEach(function (item) {
        var li = el("li");
        (row.rows || []).forEach(function (sub) {
          var part = popupRow(sub, function (f) { return item[f]; });
          if (part) li.appendChild(part);
        });
        list.appendChild(li);
      });
      return list;
    }
    if (row.as === "present") return presentAt(row, value);
    if (!present(value)) return null;
    if (row.as === "heading") return el("h3", row["class"] || "", value);
    if (row.as === "details") {
      var details = el("details", row["class"] || "");
      details.appendChild(el("summary", "", row.label || "Details"));
      details.appendChild(el("p", "", value));
      return details;
    }
    var p = el("p", row["class"] || "");
    if (row.lang) p.lang = row.lang;
    if (row.label) p.appendChild(document.createTextNode(row.label));
    if (row.as === "time") {
      var time = el("time", "", value);
      if (row.datetime && present(get(row.datetime))) time.dateTime = get(row.datetime);
      p.appendChild(time);
    } else if (row.as === "link") {
      p.appendChild(link(value, row.href ? get(row.href) : null));
    } else {
      p.appendChild(document.createTextNode(String(value)));
    }
    return p;
  }

  /* Who was there on the timeline's last day: the items whose period holds it. */
  function presentAt(row, items) {
    if (!state.range || !items || !items.length) return null;
    var day = state.range[1];
    var names = items
      .filter(function (item) {
        var start = item.start_day, end = item.end_day;
        return (start === null || start === undefined || start <= day) &&
          (end === null || end === undefined || end >= day);
      })
      .map(function (item) { return item[row.name]; });
    var text = "On " + dayText(day) + ": " + (names.length ? names.join(", ") : "no known presence");
    return el("p", row["class"] || "", text);
  }

  /* A property per row, under its human name (the kind's or map.toml's label). */
  function popupTable(fields, labels, get) {
    var table = el("table");
    fields.forEach(function (field, k) {
      var value = get(field);
      if (!present(value)) return;
      var tr = el("tr");
      var th = el("th", "", present(labels[k]) ? labels[k] : field);
      th.scope = "row";
      var td = el("td");
      td.appendChild(isLink(value) ? link(value, value) : document.createTextNode(String(value)));
      tr.appendChild(th);
      tr.appendChild(td);
      table.appendChild(tr);
    });
    return table.childNodes.length ? table : null;
  }

  /** @param {LayerDoc} doc @param {number} i */
  function popup(doc, i) {
    var article = el("article", "gs-popup gs-" + doc.kind);
    var get = function (field) {
      var column = doc.columns[field];
      return column ? column[i] : null;
    };
    doc.popup.forEach(function (row) {
      var part = popupRow(row, get);
      if (part) article.appendChild(part);
    });
    if (doc.symbol === "site") siteEvents(article, get("events"));
    var id = get(doc.idField);
    if (present(id)) {
      var permalink = el("a", "", "Link to this " + (doc.countAs ? doc.countAs.replace(/s$/, "") : "feature"));
      permalink.href = "#event=" + encodeURIComponent(id);
      var p = el("p", "gs-permalink");
      p.appendChild(permalink);
      article.appendChild(p);
    }
    return article;
  }

  /* --- symbols ------------------------------------------------------------------------- */

  function column(doc, field, i) {
    return field && doc.columns[field] ? doc.columns[field][i] : null;
  }

  function styleOf(doc, i) {
    var value = column(doc, doc.categoryField, i);
    var own = present(value) ? doc.categoryStyles[String(value)] : null;
    return Object.assign({}, doc.style, own || {});
  }

  function safeClass(value) {
    return String(value).replace(/[^A-Za-z0-9_-]/g, "_");
  }

  function eventMarker(doc, i, latlng) {
    var bearing = column(doc, doc.bearingField, i);
    var far = present(bearing);
    var vague = column(doc, doc.vagueField, i) === true; // dated only to a month or a year
    var dot = el("span", far ? "gs-arrow" : vague ? "gs-dot gs-dot-vague" : "gs-dot");
    dot.style.setProperty("--c", styleOf(doc, i).fillColor || doc.style.color);
    if (far) dot.style.transform = "rotate(" + Number(bearing) + "deg)";
    var id = column(doc, doc.idField, i);
    return iconMarker(doc, i, latlng, "gs-event gs-event-" + safeClass(id !== null ? id : i), dot, 18);
  }

  /* A point drawn as an HTML icon of ``size`` px, centred, titled for hover and screen readers. */
  function iconMarker(doc, i, latlng, className, html, size, options) {
    return L.marker(latlng, Object.assign({
      icon: L.divIcon({
        className: className,
        html: html,
        iconSize: [size, size],
        iconAnchor: [size / 2, size / 2],
        popupAnchor: [0, -8],
      }),
      title: column(doc, doc.titleField, i) || "",
      riseOnHover: true,
    }, options || {}));
  }

  /* A site's colour on ``day``: its operator's (the presences' ``colour``, from map.toml's
   * operators) while one operator is there; once every presence has ended, that of the
   * presence that ended last; several operators at once, or one without a colour, take the
   * layer's colour (geo/kindmods/bases.py). */
  function siteColour(doc, i, day) {
    var items = column(doc, "presences", i) || [];
    var at = items.filter(function (p) {
      return (p.start_day === null || p.start_day <= day) && (p.end_day === null || p.end_day >= day);
    });
    if (!at.length) {
      var last = -Infinity;
      items.forEach(function (p) { if (p.end_day !== null && p.end_day <= day) last = Math.max(last, p.end_day); });
      at = items.filter(function (p) { return p.end_day === last; });
    }
    var colours = {};
    at.forEach(function (p) { colours[p.colour || ""] = true; });
    var keys = Object.keys(colours);
    return keys.length === 1 && keys[0] ? keys[0] : doc.style.fillColor || doc.style.color;
  }

  function colourSite(layer, doc, i, day) {
    var colour = siteColour(doc, i, day);
    if (layer.gsSymbol) layer.gsSymbol.style.setProperty("--c", colour);
  }

  function siteMarker(doc, i, latlng) {
    var symbol = el("span", "gs-base-symbol");
    var icon = el("span", "gs-base-icon");
    icon.appendChild(symbol);
    var events = column(doc, "events", i) || [];
    if (events.length) icon.appendChild(el("span", "gs-site-badge", events.length));
    // in a pane above the events and their clusters
    var marker = iconMarker(doc, i, latlng, "gs-base", icon, 16, { pane: SITE_PANE });
    var radius = column(doc, doc.ringField, i);
    var layer = present(radius)
      ? L.featureGroup(uncertaintyRing(doc, latlng, radius).concat([marker]))
      : marker;
    layer.gsSymbol = symbol;
    colourSite(layer, doc, i, state.range ? state.range[1] : Infinity);
    return layer;
  }

  /* A site's popup ends with its events (those within its uncertainty radius), in date order:
   * each a button that opens the event's popup. */
  function siteEvents(article, events) {
    if (!events || !events.length) return;
    article.appendChild(el("p", "gs-site-events-title",
      events.length === 1 ? "1 event at this site" : events.length + " events at this site"));
    var list = el("ul", "gs-site-events");
    events.forEach(function (e) {
      var li = el("li");
      var button = el("button", "gs-site-event");
      button.type = "button";
      button.appendChild(el("span", "gs-site-event-date", e.date));
      button.appendChild(document.createTextNode(" " + e.title));
      button.addEventListener("click", function () {
        if (state.map) state.map.closePopup();
        openEvent(e.id, e.layer);
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    article.appendChild(list);
  }

  /* map.toml's [[annotations]]: a box beside its site with a thin leader line, placed and
   * hidden by declutter() like a label, after country and site names (priority below theirs,
   * above capitals and towns); hidden on phones narrower than 480 px (story.css). */
  var ANNOTATION_PRIORITY = 35;
  var ANNOTATION_PLACEMENTS = ["gs-at-ne", "gs-at-nw", "gs-at-se", "gs-at-sw"];

  function annotationMarkers(doc) {
    var out = [];
    if (doc.symbol !== "site" || !doc.columns.annotations) return out;
    doc.columns.annotations.forEach(function (notes, i) {
      (notes || []).forEach(function (note) {
        var html = el("span", "gs-note-box", note.text); // its ::after is the leader line
        var marker = L.marker([doc.lat[i], doc.lon[i]], {
          icon: L.divIcon({ className: "gs-label gs-annotation gs-at-ne", html: html, iconSize: null }),
          interactive: false,
          keyboard: false,
        });
        marker.priority = ANNOTATION_PRIORITY;
        marker.text = note.text;
        marker.placements = ANNOTATION_PLACEMENTS;
        marker.gsAnnotation = true;
        state.labels.push(marker);
        out.push(marker);
      });
    });
    return out;
  }

  /* An uncertainty ring is drawn to scale, and only once it is wider than its marker (and a
   * little more): a smaller ring would hide under the marker, which already covers the area.
   * Once legible it says its radius, "±3 km". */
  var RING_MIN_PX = 14; // half the site marker (8 px) and 6 px
  var RING_LABEL_PX = 25;

  function uncertaintyRing(doc, latlng, radius) {
    var ring = L.circle(
      latlng,
      Object.assign({}, doc.ringStyle, { radius: radius, className: "gs-base-ring", interactive: false })
    );
    var km = Number((radius / 1000).toFixed(1));
    var north = L.latLng(latlng).toBounds(2 * radius).getNorth();
    var label = L.marker([north, L.latLng(latlng).lng], {
      icon: L.divIcon({ className: "gs-ring-label", html: el("span", "", "±" + km + " km"), iconSize: null }),
      interactive: false,
      keyboard: false,
    });
    ring.gsLabel = label;
    state.rings.push(ring);
    ring.on("add", function () { scaleRing(ring); });
    label.on("add", function () { scaleRing(ring); });
    return [ring, label];
  }

  function scaleRing(ring) {
    var m = state.map, path = ring.getElement && ring.getElement();
    if (!m || !path) return;
    var metresPerPx = 40075016.686 * Math.cos(ring.getLatLng().lat * Math.PI / 180) /
      (256 * Math.pow(2, m.getZoom()));
    var px = ring.getRadius() / metresPerPx;
    path.classList.toggle("gs-ring-hidden", px < RING_MIN_PX);
    var node = ring.gsLabel.getElement();
    if (!node) return;
    node.classList.toggle("gs-ring-legible", px > RING_LABEL_PX);
    node.style.marginLeft = -node.offsetWidth / 2 + "px"; // centred above the ring
    node.style.marginTop = -node.offsetHeight + "px";
  }

  function dotMarker(doc, i, latlng) {
    return L.circleMarker(latlng, Object.assign(styleOf(doc, i), { className: "gs-point" }));
  }

  var POINT = { event: eventMarker, site: siteMarker, dot: dotMarker };
  var SITE_PANE = "gs-sites";

  /* The layer's vertices from geo/shapes.py's varints: x, y, x, y... in degrees. */
  function vertices(shapes) {
    var bytes = atob(shapes.coords), out = [], value = 0, shift = 0, last = [0, 0];
    for (var k = 0; k < bytes.length; k++) {
      var b = bytes.charCodeAt(k);
      value += (b & 127) * Math.pow(2, shift); // beyond 32 bits, unlike <<
      shift += 7;
      if (b < 128) {
        var n = out.length % 2, delta = value % 2 ? -(value + 1) / 2 : value / 2;
        last[n] += delta;
        out.push(last[n] * shapes.quantum);
        value = 0;
        shift = 0;
      }
    }
    return out;
  }

  /* Feature i of a ragged array as a GeoJSON geometry: offsets lead from parts to rings or
   * lines to vertices. */
  function shapeOf(doc, i) {
    var s = doc.shapes, xy = s.xy || (s.xy = vertices(s)), depth = s.offsets.length;
    function level(d, from, to) {
      var items = [];
      for (var k = from; k < to; k++) {
        if (d < 0) items.push([xy[2 * k], xy[2 * k + 1]]);
        else items.push(level(d - 1, s.offsets[d][k], s.offsets[d][k + 1]));
      }
      return items;
    }
    var top = depth - 1;
    return {
      type: s.type,
      coordinates: level(top - 1, s.offsets[top][i], s.offsets[top][i + 1]),
    };
  }

  function feature(doc, i) {
    if (doc.lon) {
      var latlng = [doc.lat[i], doc.lon[i]];
      return (POINT[doc.symbol] || dotMarker)(doc, i, latlng);
    }
    var line = doc.symbol === "line";
    return L.geoJSON(doc.shapes ? shapeOf(doc, i) : doc.geometry[i], {
      interactive: doc.interactive,
      style: Object.assign(styleOf(doc, i), line ? { fill: false } : {}),
      pointToLayer: function (f, latlng) {
        return dotMarker(doc, i, latlng);
      },
    });
  }

  /* --- labels: the lower priority of two colliding labels is hidden --------------------- */

  var LABEL_CLASS = {
    country: "gs-country-label",
    focus: "gs-country-label gs-focus-label",
    place: "gs-place-label",
    site: "gs-place-label gs-site-label",
  };
  /* Where a label may sit around its point, in order of preference: a name beside a point
   * (right, left, above, below), a country's name on its spot or just above or below it. */
  var PLACEMENTS = {
    point: ["gs-at-right", "gs-at-left", "gs-at-top", "gs-at-bottom",
      "gs-at-right gs-out", "gs-at-left gs-out", "gs-at-top gs-out", "gs-at-bottom gs-out"],
    centre: ["gs-at-centre", "gs-at-up", "gs-at-down", "gs-at-east", "gs-at-west",
      "gs-at-up gs-out", "gs-at-down gs-out", "gs-at-up gs-at-east", "gs-at-up gs-at-west",
      "gs-at-down gs-at-east", "gs-at-down gs-at-west"],
  };
  var ALL_PLACEMENTS = ["gs-at-right", "gs-at-left", "gs-at-top", "gs-at-bottom", "gs-at-centre",
    "gs-at-up", "gs-at-down", "gs-at-east", "gs-at-west", "gs-out",
    "gs-at-ne", "gs-at-nw", "gs-at-se", "gs-at-sw"]; // the last four: annotations

  function labelMarkers(doc) {
    var labels = doc.labels;
    return labels.text.map(function (text, i) {
      var cls = "gs-label " + (LABEL_CLASS[labels.role[i]] || "gs-place-label");
      if (labels.rank[i]) cls += " gs-rank-" + safeClass(labels.rank[i].replace(/\s+/g, "-"));
      var marker = L.marker([labels.lat[i], labels.lon[i]], {
        icon: L.divIcon({ className: cls, html: el("span", "", text), iconSize: null }),
        interactive: false,
        keyboard: false,
      });
      marker.priority = labels.priority[i];
      marker.text = text;
      marker.placements = /gs-country-label/.test(cls) ? PLACEMENTS.centre : PLACEMENTS.point;
      state.labels.push(marker);
      return marker;
    });
  }

  function overlaps(a, b) {
    return a.left < b.right && a.right > b.left && a.top < b.bottom && a.bottom > b.top;
  }

  /* The markers a label must not cover: events, clusters, sites (every icon but the labels). */
  function markerBoxes() {
    if (!state.map) return [];
    var nodes = state.map.getContainer().querySelectorAll(".leaflet-marker-icon:not(.gs-label)");
    var boxes = [];
    Array.prototype.forEach.call(nodes, function (node) {
      var box = node.getBoundingClientRect();
      if (box.width && box.height) boxes.push(box);
    });
    return boxes;
  }

  function place(node, placement) {
    var wanted = placement.split(" ");
    ALL_PLACEMENTS.forEach(function (name) {
      node.classList.toggle(name, wanted.indexOf(name) >= 0);
    });
  }

  /* In priority order, each label takes the first of its placements that covers neither a
   * marker nor a label already shown; a label with no such placement is hidden, and so is a
   * name already shown close by (a site named after its town). */
  var SAME_NAME_PX = 80;

  /* A site drawn over a cluster lets the cluster take a click or tap on it: the pile opens
   * first (the site stays reachable by Tab, and on its own once zoomed in). */
  function passThroughSites() {
    if (!state.map) return;
    var box = state.map.getContainer();
    var clusters = Array.prototype.map.call(box.querySelectorAll(".marker-cluster"), function (n) {
      return n.getBoundingClientRect();
    });
    Array.prototype.forEach.call(box.querySelectorAll(".gs-base"), function (node) {
      var r = node.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
      node.classList.toggle("gs-over-cluster", clusters.some(function (c) {
        return x > c.left && x < c.right && y > c.top && y < c.bottom;
      }));
    });
  }

  /* Markers can still move after a zoom's events (markercluster animates clusters apart at its
   * own pace): look again once they have settled. */
  var SETTLE_MS = 350;
  var lateDeclutter = null;

  function declutterNowAndLater() {
    declutter();
    clearTimeout(lateDeclutter);
    lateDeclutter = setTimeout(declutter, SETTLE_MS);
  }

  function declutter() {
    passThroughSites();
    var taken = markerBoxes();
    var named = {}; // text -> points where it is shown
    var nearby = function (text, at) {
      return (named[text] || []).some(function (p) {
        return Math.abs(p.x - at.x) < SAME_NAME_PX && Math.abs(p.y - at.y) < SAME_NAME_PX;
      });
    };
    state.labels
      .slice()
      .sort(function (a, b) {
        return b.priority - a.priority;
      })
      .forEach(function (marker) {
        var node = marker.getElement && marker.getElement();
        if (!node) return;
        node.style.visibility = "";
        var at = node.getBoundingClientRect(); // the label's point
        if (nearby(marker.text, at)) {
          node.style.visibility = "hidden";
          return;
        }
        var span = node.firstChild || node;
        var placements = marker.placements || [null];
        for (var k = 0; k < placements.length; k++) {
          if (placements[k]) place(node, placements[k]);
          var box = span.getBoundingClientRect();
          if (!box.width) return; // not drawn at this zoom
          var hit = taken.some(function (other) {
            return overlaps(box, other);
          });
          if (!hit) {
            taken.push(box);
            (named[marker.text] = named[marker.text] || []).push(at);
            return;
          }
        }
        if (placements[0]) place(node, placements[0]);
        if (marker.gsKeep) { // a badge stays: it is the only way to its events
          taken.push(span.getBoundingClientRect());
          return;
        }
        node.style.visibility = "hidden";
      });
  }

  /* --- layers ------------------------------------------------------------------------------ */

  /* A cluster shows its count, and is highlighted when it holds a highlighted feature. */
  function clusterIcon(cluster) {
    var count = cluster.getChildCount();
    var size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    var lit = cluster.getAllChildMarkers().some(function (m) { return m.gsHighlight; });
    var inner = el("div");
    inner.appendChild(el("span", "", count));
    return L.divIcon({
      html: inner,
      className: "marker-cluster marker-cluster-" + size + (lit ? " gs-highlight" : ""),
      iconSize: L.point(40, 40),
    });
  }

  /* Leaflet.markercluster walks its cluster levels from the map's minimum zoom, which it
   * assumes is whole: with a fractional one (the zoom at which the land fills the frame) its
   * lone top-level markers never reach the map. Start its walks at the whole level below. */
  if (L.MarkerCluster && !L.MarkerCluster.prototype.gsWholeZooms) {
    var recursively = L.MarkerCluster.prototype._recursively;
    L.MarkerCluster.prototype._recursively = function (bounds, start, stop, every, bottom) {
      return recursively.call(this, bounds, Math.floor(start), stop, every, bottom);
    };
    L.MarkerCluster.prototype.gsWholeZooms = true;
  }

  function clusterGroup() {
    return L.markerClusterGroup({
      iconCreateFunction: clusterIcon,
      showCoverageOnHover: false,
      maxClusterRadius: 20,
      spiderfyOnMaxZoom: true,
      spiderfyDistanceMultiplier: 1.6,
    });
  }

  /** @param {LayerDoc} doc */
  function drawLayer(m, doc) {
    var group = L.featureGroup();
    var cluster = doc.cluster ? clusterGroup() : null;
    if (cluster) {
      group.addLayer(cluster);
      // clusters settle after their animation: labels give way to them then
      cluster.on("animationend spiderfied unspiderfied", declutterNowAndLater);
    }
    var entry = { doc: doc, group: group, markers: {}, cluster: cluster, features: [], shown: [],
      aside: L.layerGroup() }; // never on the map: the events a chip or a badge lists
    for (var i = 0; i < doc.count; i++) {
      var layer = feature(doc, i);
      if (doc.interactive && doc.popup.length) {
        layer.bindPopup(
          (function (index) {
            return function () {
              return popup(doc, index);
            };
          })(i),
          popupOptions(m)
        );
      }
      var far = present(column(doc, doc.bearingField, i));
      layer.gsChip = far && doc.farFields ? column(doc, doc.farFields[0], i) : null;
      layer.gsArea = present(column(doc, doc.areaField, i)) ? column(doc, doc.areaField, i) : null;
      layer.gsHome = layer.gsChip || layer.gsArea ? entry.aside : cluster && !far ? cluster : group;
      layer.gsFar = far;
      layer.gsId = column(doc, doc.idField, i);
      layer.on("add", function (e) {
        // Leaflet makes a marker's element anew each time it is added: restore its classes
        if (e.target.gsEnded) markEnded(e.target, true);
        var node = e.target.getElement && e.target.getElement();
        if (node && e.target.gsHighlight) node.classList.add("gs-highlight");
      });
      layer.gsHome.addLayer(layer);
      entry.features.push(layer);
      entry.shown.push(true);
      var id = column(doc, doc.idField, i);
      if (id !== null) {
        entry.markers[id] = layer;
        layer.gsCluster = cluster && !far && !layer.gsArea ? cluster : null;
        if (cluster && !(id in state.events)) state.events[id] = layer;
      }
    }
    labelMarkers(doc).concat(annotationMarkers(doc)).forEach(function (label) {
      group.addLayer(label);
    });
    if (cluster && !state.eventLayer) state.eventLayer = cluster;
    state.layers[doc.name] = entry;
    if (doc.show) group.addTo(m);
    return entry;
  }

  /* Popups stay clear of the controls (zoom and full screen at the top left, layers at the top
   * right, scale and attribution at the bottom), on phones too. */
  var POPUP_CLEAR = { topLeft: [60, 60], bottomRight: [60, 40] };

  function popupOptions(m) {
    var size = m.getSize();
    var clear = POPUP_CLEAR.topLeft[0] + POPUP_CLEAR.bottomRight[0] + 40;
    return {
      maxWidth: Math.max(140, Math.min(300, size.x - clear)),
      maxHeight: Math.max(160, size.y - POPUP_CLEAR.topLeft[1] - POPUP_CLEAR.bottomRight[1] - 40),
      autoPanPaddingTopLeft: POPUP_CLEAR.topLeft,
      autoPanPaddingBottomRight: POPUP_CLEAR.bottomRight,
    };
  }

  /* Far-away features (a layer with a bearing field) stay inside the frame, clear of the
   * controls: on the line from the map's centre towards where they are drawn, placed again
   * after every pan, zoom and resize. */
  var EDGE = { left: 56, top: 16, right: 66, bottom: 48 }; // pixels kept for the controls

  function pinFar(m) {
    var size = m.getSize(), c = size.divideBy(2);
    Object.keys(state.layers).forEach(function (name) {
      state.layers[name].features.forEach(function (layer) {
        if (!layer.gsFar || layer.gsChip || !layer.getLatLng || (layer.isPopupOpen && layer.isPopupOpen())) return;
        if (!layer.gsWhere) layer.gsWhere = layer.getLatLng();
        var p = m.latLngToContainerPoint(layer.gsWhere);
        var dx = p.x - c.x, dy = p.y - c.y, t = 1;
        if (dx < 0) t = Math.min(t, (EDGE.left - c.x) / dx);
        if (dx > 0) t = Math.min(t, (size.x - EDGE.right - c.x) / dx);
        if (dy < 0) t = Math.min(t, (EDGE.top - c.y) / dy);
        if (dy > 0) t = Math.min(t, (size.y - EDGE.bottom - c.y) / dy);
        layer.setLatLng(m.containerPointToLatLng(L.point(c.x + dx * Math.max(t, 0), c.y + dy * Math.max(t, 0))));
      });
    });
    placeChips(m);
    state.rings.forEach(scaleRing);
  }

  /* --- events that are not points: far away (a chip at the frame's edge per place) and
   * country-wide (a badge under the country's name). Each lists its events in date order;
   * opening one never moves the map. ------------------------------------------------------ */

  var CHIP_GAP = 6; // pixels between two chips
  var CHIP_PANE = "gs-chips";
  var BADGE_PLACEMENTS = ["gs-at-down", "gs-at-up", "gs-at-down gs-out", "gs-at-up gs-out",
    "gs-at-east", "gs-at-west", "gs-at-down gs-at-east", "gs-at-down gs-at-west",
    "gs-at-up gs-at-east", "gs-at-up gs-at-west", "gs-at-down gs-out gs-at-east",
    "gs-at-down gs-out gs-at-west", "gs-at-up gs-out gs-at-east", "gs-at-up gs-out gs-at-west"];

  /* The chips and badges of every layer that holds events aside. */
  function drawAsides(m) {
    // a pane above the markers and below the popups; chips are placed in container pixels
    var overlay = m.getPane(CHIP_PANE) || m.createPane(CHIP_PANE);
    overlay.style.zIndex = 690;
    Object.keys(state.layers).forEach(function (name) {
      var entry = state.layers[name], doc = entry.doc, groups = {};
      entry.features.forEach(function (layer, i) {
        var key = layer.gsChip ? "chip:" + layer.gsChip : layer.gsArea ? "area:" + layer.gsArea : null;
        if (key) (groups[key] = groups[key] || []).push(i);
      });
      Object.keys(groups).forEach(function (key) {
        var first = entry.features[groups[key][0]];
        var aside = { entry: entry, indices: groups[key], chip: !!first.gsChip };
        aside.name = first.gsChip || first.gsArea;
        if (aside.chip) {
          var f = doc.farFields, i = groups[key][0];
          aside.where = L.latLng(column(doc, f[2], i), column(doc, f[1], i));
          aside.node = el("button", "gs-chip");
          aside.node.type = "button";
          aside.arrow = el("span", "gs-chip-arrow", "→");
          aside.arrow.setAttribute("aria-hidden", "true");
          aside.text = el("span", "gs-chip-text");
          aside.node.appendChild(aside.arrow);
          aside.node.appendChild(aside.text);
          L.DomEvent.disableClickPropagation(aside.node);
          L.DomEvent.disableScrollPropagation(aside.node);
          aside.node.addEventListener("click", function () { openAside(m, aside, null); });
          overlay.appendChild(aside.node);
        } else {
          var label = state.labels.filter(function (l) { return l.text === aside.name; })[0];
          aside.text = el("span", "gs-badge-text");
          // placed like a label (declutter), under the country's name, and never hidden
          aside.marker = L.marker(label ? label.getLatLng() : first.getLatLng(), {
            icon: L.divIcon({
              className: "gs-label gs-country-label gs-area-badge", html: aside.text, iconSize: null,
            }),
            keyboard: true,
            riseOnHover: true,
            pane: SITE_PANE, // above the sites and clusters around the name
            zIndexOffset: 1000,
          });
          aside.marker.priority = 99; // placed just after the name, around it
          aside.marker.text = "\u0000" + aside.name; // not the name: never "shown close by"
          aside.marker.placements = BADGE_PLACEMENTS;
          aside.marker.gsKeep = true;
          state.labels.push(aside.marker);
          aside.marker.on("click", function () { openAside(m, aside, null); });
          aside.marker.on("add", function () { updateAside(m, aside); });
          entry.group.addLayer(aside.marker);
        }
        state.asides.push(aside);
      });
    });
    m.on("overlayadd overlayremove", function () { updateAsides(m); });
    updateAsides(m);
  }

  function shownOf(aside) {
    return aside.indices.filter(function (i) { return aside.entry.shown[i]; });
  }

  /* A chip or badge says how many of its events the timeline shows; with none it is hidden. */
  function updateAside(m, aside) {
    var n = shownOf(aside).length, noun = n === 1 ? " event" : " events";
    var on = n > 0 && m.hasLayer(aside.entry.group);
    var lit = aside.chip ? aside.node : aside.marker.getElement();
    if (lit) lit.classList.toggle("gs-highlight", !!aside.lit);
    if (aside.chip) {
      aside.text.textContent = aside.name + " (" + n + ")";
      aside.node.setAttribute("aria-label", n + noun + " in " + aside.name + ", far outside the map: show");
      aside.node.title = n + noun + " in " + aside.name + ", far outside the map";
      aside.node.hidden = !on;
      aside.node.setAttribute("data-count", on ? n : 0);
      return;
    }
    aside.text.textContent = aside.name + " · " + n;
    var node = aside.marker.getElement();
    if (!node) return;
    node.setAttribute("aria-label", n + noun + " across " + aside.name + ": show the list");
    node.title = n + noun + " across " + aside.name + ", not at one place";
    node.style.display = n ? "" : "none";
    node.setAttribute("data-count", on ? n : 0);
  }

  function updateAsides(m) {
    state.asides.forEach(function (aside) { updateAside(m, aside); });
    placeChips(m);
  }

  /* Each chip on the line from the frame's centre towards its place, at the frame's edge,
   * clear of the controls and of the chips already placed. */
  function placeChips(m) {
    var size = m.getSize(), c = size.divideBy(2), placed = [];
    state.asides.forEach(function (aside) {
      if (!aside.chip || aside.node.hidden) return;
      var w = aside.node.offsetWidth, h = aside.node.offsetHeight;
      var p = m.latLngToContainerPoint(aside.where);
      var dx = p.x - c.x, dy = p.y - c.y, t = Infinity;
      var lo = L.point(EDGE.left + w / 2, EDGE.top + h / 2);
      var hi = L.point(size.x - EDGE.right - w / 2, size.y - EDGE.bottom - h / 2);
      if (dx < 0) t = Math.min(t, (lo.x - c.x) / dx);
      if (dx > 0) t = Math.min(t, (hi.x - c.x) / dx);
      if (dy < 0) t = Math.min(t, (lo.y - c.y) / dy);
      if (dy > 0) t = Math.min(t, (hi.y - c.y) / dy);
      if (!isFinite(t)) t = 0;
      var x = c.x + dx * Math.max(t, 0), y = c.y + dy * Math.max(t, 0);
      for (var k = 0; k < placed.length; k++) { // one below the other where two would meet
        var o = placed[k];
        if (Math.abs(o.x - x) < (o.w + w) / 2 + CHIP_GAP && Math.abs(o.y - y) < (o.h + h) / 2 + CHIP_GAP) {
          y = o.y + (o.y > c.y ? -1 : 1) * ((o.h + h) / 2 + CHIP_GAP);
        }
      }
      x = Math.min(Math.max(x, lo.x), hi.x);
      y = Math.min(Math.max(y, lo.y), hi.y);
      placed.push({ x: x, y: y, w: w, h: h });
      aside.at = L.point(x, y);
      L.DomUtil.setPosition(aside.node, m.containerPointToLayerPoint(L.point(Math.round(x - w / 2), Math.round(y - h / 2))));
      aside.arrow.style.transform = "rotate(" + Math.round(Math.atan2(dy, dx) * 180 / Math.PI) + "deg)";
    });
  }

  /* The list of an aside's events in date order (the layer's order), each opening its popup in
   * place; ``index`` opens that event's popup at once. */
  function asideContent(m, aside, index, popupLayer) {
    var doc = aside.entry.doc, shown = shownOf(aside);
    if (index === null && shown.length === 1) index = shown[0];
    if (index !== null) {
      var one = popup(doc, index);
      if (shown.length > 1) {
        var back = el("button", "gs-aside-back", "← All " + shown.length + " events " +
          (aside.chip ? "in " : "across ") + aside.name);
        back.type = "button";
        back.addEventListener("click", function () {
          popupLayer.setContent(asideContent(m, aside, null, popupLayer));
          fitPopup(m, popupLayer, aside);
        });
        one.appendChild(back);
      }
      return one;
    }
    var box = el("article", "gs-popup gs-aside-list");
    box.appendChild(el("h3", "", shown.length + " events " + (aside.chip ? "in " : "across ") + aside.name));
    var list = el("ol");
    shown.forEach(function (i) {
      var li = el("li"), button = el("button", "gs-aside-item");
      button.type = "button";
      button.setAttribute("data-id", column(doc, doc.idField, i));
      button.appendChild(el("span", "gs-date", column(doc, "when", i)));
      button.appendChild(document.createTextNode(" " + (column(doc, "title", i) || "")));
      button.addEventListener("click", function () {
        popupLayer.setContent(asideContent(m, aside, i, popupLayer));
        fitPopup(m, popupLayer, aside);
        var heading = popupLayer.getElement().querySelector("h3, .leaflet-popup-content");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  /* A chip's popup sits inside the frame: its anchor moves inwards until the popup fits. */
  function fitPopup(m, popupLayer, aside) {
    if (!popupLayer.getElement()) return;
    var frame = m.getContainer().getBoundingClientRect();
    var box = popupLayer.getElement().getBoundingClientRect();
    var at = m.latLngToContainerPoint(popupLayer.getLatLng());
    // clear of the controls where it fits (POPUP_CLEAR), else of the frame's rim
    var roomX = frame.width - POPUP_CLEAR.topLeft[0] - POPUP_CLEAR.bottomRight[0] >= box.width;
    var roomY = frame.height - POPUP_CLEAR.topLeft[1] - POPUP_CLEAR.bottomRight[1] >= box.height;
    var left = roomX ? POPUP_CLEAR.topLeft[0] : 8, right = roomX ? POPUP_CLEAR.bottomRight[0] : 8;
    var top = roomY ? POPUP_CLEAR.topLeft[1] : 8, bottom = roomY ? POPUP_CLEAR.bottomRight[1] : 8;
    var dx = Math.max(0, frame.left + left - box.left) - Math.max(0, box.right - frame.right + right);
    var dy = Math.max(0, frame.top + top - box.top) - Math.max(0, box.bottom - frame.bottom + bottom);
    if (dx || dy) popupLayer.setLatLng(m.containerPointToLatLng(at.add(L.point(dx, dy))));
  }

  function openAside(m, aside, index) {
    var options = Object.assign(popupOptions(m), { autoPan: false, className: "gs-aside-popup" });
    var at = aside.chip ? m.containerPointToLatLng(aside.at || m.getSize().divideBy(2))
      : aside.marker.getLatLng();
    var opener = aside.chip ? aside.node : aside.marker.getElement();
    var popupLayer = L.popup(options).setLatLng(at);
    popupLayer.setContent(asideContent(m, aside, index, popupLayer));
    popupLayer.on("remove", function () {
      var active = document.activeElement, box = popupLayer.getElement();
      if (opener && opener.isConnected && (!active || active === document.body || (box && box.contains(active)))) {
        opener.focus({ preventScroll: true });
      }
    });
    popupLayer.openOn(m);
    fitPopup(m, popupLayer, aside);
    requestAnimationFrame(function () { fitPopup(m, popupLayer, aside); }); // once laid out
    var content = popupLayer.getElement().querySelector(".leaflet-popup-content");
    if (opener && document.activeElement === opener) {
      content.setAttribute("tabindex", "-1");
      content.focus({ preventScroll: true });
    }
    return popupLayer;
  }

  /** Open the chip or badge that lists a feature held aside, at that feature's popup. */
  function openAsideOf(layer) {
    var aside = state.asides.filter(function (a) {
      return a.entry.features.indexOf(layer) >= 0 && a.indices.indexOf(a.entry.features.indexOf(layer)) >= 0;
    })[0];
    if (!aside) return false;
    updateAside(state.map, aside);
    placeChips(state.map);
    openAside(state.map, aside, aside.entry.features.indexOf(layer));
    return true;
  }

  /* --- time: show what falls in [from, to] ---------------------------------------------- */

  function inRange(doc, i, from, to) {
    var start = doc.start[i], end = doc.end[i];
    var after = start === null ? -Infinity : start;
    var before = end === null ? Infinity : end;
    if (doc.timeMode === "status") return after <= to; // shown once started
    return after <= to && before >= from;
  }

  function markEnded(layer, ended) {
    var node = layer.getElement ? layer.getElement() : null;
    if (layer.eachLayer) layer.eachLayer(function (part) { markEnded(part, ended); });
    if (node) node.classList.toggle("gs-ended", ended);
    layer.gsEnded = ended;
  }

  /** Show only what the range [from, to] holds; returns {noun: [shown, total]}. */
  function setRange(from, to) {
    state.range = [from, to];
    var counts = {};
    Object.keys(state.layers).forEach(function (name) {
      var entry = state.layers[name], doc = entry.doc;
      if (!doc.start) return;
      var add = {}, remove = {};
      entry.features.forEach(function (layer, i) {
        var show = inRange(doc, i, from, to);
        if (doc.countAs) {
          var c = counts[doc.countAs] || (counts[doc.countAs] = [0, 0]);
          c[0] += show ? 1 : 0;
          c[1] += 1;
        }
        if (doc.timeMode === "status") markEnded(layer, doc.end[i] !== null && doc.end[i] < to);
        if (doc.symbol === "site") colourSite(layer, doc, i, to);
        if (show === entry.shown[i]) return;
        entry.shown[i] = show;
        var home = layer.gsHome;
        var bucket = show ? add : remove;
        (bucket[L.stamp(home)] = bucket[L.stamp(home)] || { home: home, layers: [] }).layers.push(layer);
      });
      [remove, add].forEach(function (bucket, adding) {
        Object.keys(bucket).forEach(function (key) {
          var b = bucket[key];
          if (b.home.addLayers) (adding ? b.home.addLayers : b.home.removeLayers).call(b.home, b.layers);
          else b.layers.forEach(function (l) { adding ? b.home.addLayer(l) : b.home.removeLayer(l); });
        });
      });
    });
    if (state.map) updateAsides(state.map);
    declutter();
    return counts;
  }

  /** Mark these features (by id, over every layer) and no others. */
  function highlight(ids) {
    var wanted = {};
    (ids || []).forEach(function (id) { wanted[id] = true; });
    Object.keys(state.layers).forEach(function (name) {
      var entry = state.layers[name];
      Object.keys(entry.markers).forEach(function (id) {
        var node = entry.markers[id].getElement && entry.markers[id].getElement();
        entry.markers[id].gsHighlight = !!wanted[id];
        if (node) node.classList.toggle("gs-highlight", !!wanted[id]);
      });
      if (entry.cluster) entry.cluster.refreshClusters();
    });
    state.asides.forEach(function (aside) { // a chip or badge lists a highlighted event
      var doc = aside.entry.doc;
      aside.lit = aside.indices.some(function (i) { return !!wanted[column(doc, doc.idField, i)]; });
      updateAside(state.map, aside);
    });
  }

  /** Where these features are (by id): a LatLngBounds, or null. */
  function boundsOf(ids) {
    var bounds = null;
    (ids || []).forEach(function (id) {
      Object.keys(state.layers).forEach(function (name) {
        var layer = state.layers[name].markers[id];
        if (!layer || layer.gsFar) return;
        var b = layer.getBounds ? layer.getBounds() : L.latLngBounds([layer.getLatLng()]);
        bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
      });
    });
    return bounds;
  }

  /** The layer and row of a feature id, or null. */
  function find(id, layerName) {
    var names = layerName ? [layerName] : Object.keys(state.layers);
    for (var k = 0; k < names.length; k++) {
      var entry = state.layers[names[k]];
      if (!entry || !(id in entry.markers)) continue;
      return { entry: entry, index: entry.features.indexOf(entry.markers[id]) };
    }
    return null;
  }

  function openEvent(id, layerName) {
    var entry = layerName ? state.layers[layerName] : null;
    var marker = entry ? entry.markers[id] : state.events[id];
    if (!marker) return false;
    var hit = find(id, layerName);
    if (hit && !hit.entry.shown[hit.index] && state.timeline) {
      state.timeline.include(hit.entry.doc.start[hit.index], hit.entry.doc.end[hit.index]);
    }
    var owner = Object.keys(state.layers)
      .map(function (k) { return state.layers[k]; })
      .filter(function (e) { return e.markers[id] === marker; })[0];
    if (owner && !state.map.hasLayer(owner.group)) state.map.addLayer(owner.group);
    state.map.getContainer().scrollIntoView({ block: "nearest" });
    if (marker.gsChip || marker.gsArea) return openAsideOf(marker);
    if (!marker.gsCluster) {
      marker.openPopup(); // at the map's edge
      return true;
    }
    marker.gsCluster.zoomToShowLayer(marker, function () {
      marker.openPopup();
    });
    return true;
  }

  /* --- controls ---------------------------------------------------------------------------- */

  /* The key is the page's HTML, above the map (geo/templates/page.html): a layer's row is
   * dimmed while the layer control hides the layer. */
  function keyFollowsLayers(m) {
    var rows = document.querySelectorAll(".gs-legend-row[data-layer]");
    var sync = function () {
      Array.prototype.forEach.call(rows, function (row) {
        var entry = state.layers[row.getAttribute("data-layer")];
        if (entry) row.classList.toggle("gs-off", !m.hasLayer(entry.group));
      });
    };
    m.on("overlayadd overlayremove", sync);
    sync();
  }

  /* A map button: a real <button> with a title and an accessible name. */
  function mapButton(className, title, label, symbol, onClick) {
    return L.Control.extend({
      options: { position: "topleft" },
      onAdd: function (m) {
        var button = L.DomUtil.create("button", className + " leaflet-bar");
        button.type = "button";
        button.title = title;
        button.setAttribute("aria-label", label);
        button.textContent = symbol;
        L.DomEvent.disableClickPropagation(button);
        L.DomEvent.on(button, "click", function () {
          onClick(m);
        });
        return button;
      },
    });
  }

  var Fullscreen = mapButton("gs-fullscreen", "Full screen", "Show the map full screen", "⤢",
    function (m) {
      var box = m.getContainer();
      if (document.fullscreenElement) document.exitFullscreen();
      else if (box.requestFullscreen) box.requestFullscreen();
    });

  /* Back to the view the map opened on. */
  var ResetView = mapButton("gs-reset", "Reset view", "Reset the map to its opening view", "⌂",
    function (m) {
      openingView(m);
    });


  /* The opening view: the story's bounds; where the frame cannot show them all inside the
   * layers' extent (a wide or a tall frame), the same zoom, moved as little as it takes to
   * show what the story is about (its dated points and their surroundings). */
  function openingView(m) {
    var view = state.doc.view;
    var padding = L.point(12, 12);
    var min = m.getMinZoom();
    m.options.minZoom = 0; // getBoundsZoom clamps to the minimum
    var fitted = m.getBoundsZoom(view.bounds, false, padding);
    m.options.minZoom = min;
    var zoom = Math.max(fitted, min);
    var centre = m.project(L.latLngBounds(view.bounds).getCenter(), zoom);
    if (zoom > fitted && view.focus) {
      var half = m.getSize().subtract(padding).divideBy(2);
      var focus = L.latLngBounds(view.focus);
      var nw = m.project(focus.getNorthWest(), zoom), se = m.project(focus.getSouthEast(), zoom);
      var shift = function (c, lo, hi, h) {
        if (hi - lo > 2 * h) return (lo + hi) / 2; // larger than the frame: centred
        return Math.min(Math.max(c, hi - h), lo + h);
      };
      centre = L.point(shift(centre.x, nw.x, se.x, half.x), shift(centre.y, nw.y, se.y, half.y));
    }
    m.setView(m.unproject(centre, zoom), zoom, { animate: false });
  }

  /* The reader never zooms out beyond the layers' extent: where the land covers it, it fills
   * every view; without land around the story, the whole extent is the widest view. */
  function limitZoom(m) {
    m.options.minZoom = 0; // getBoundsZoom clamps to the current minimum
    var zoom = m.getBoundsZoom(state.doc.view.maxBounds, state.doc.view.filled);
    m.setMinZoom(Math.min(zoom, m.getMaxZoom()));
  }

  /* Leaflet's link without the flag: a news map on geopolitics stays neutral. */
  function attribution(m) {
    if (!m.attributionControl) return;
    var a = el("a", "", "Leaflet");
    a.href = "https://leafletjs.com";
    m.attributionControl.setPrefix(a.outerHTML);
  }

  function layerControl(m) {
    var overlays = {};
    Object.keys(state.layers).forEach(function (name) {
      var entry = state.layers[name];
      // Leaflet writes an overlay's name as HTML: the title is escaped first.
      if (entry.doc.control) overlays[escapeHtml(entry.doc.title)] = entry.group;
    });
    L.control.layers(null, overlays, { position: "topright", collapsed: true }).addTo(m);
  }

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

  /* A popup opened from the keyboard takes the focus, so its links are reachable by Tab.
   * Escape closes it, and the focus goes back to the marker that opened it. */
  function focusPopups(m) {
    var opener = null, open = null, lifted = null;
    m.on("popupopen", function (e) {
      open = e.popup;
      // A popup near the rim needs room that the land's extent forbids: while it is open the
      // map may pan beyond, so the popup clears the controls (Leaflet's pan, once more).
      if (m.options.maxBounds && !lifted) {
        lifted = m.options.maxBounds;
        m.setMaxBounds(null);
        if (e.popup._adjustPan) e.popup._adjustPan();
      }
      var source = e.popup._source;
      var node = source && source.getElement ? source.getElement() : null;
      opener = node && node.classList.contains("leaflet-marker-icon") ? node : null;
      var active = document.activeElement;
      if (!active || !active.classList.contains("leaflet-marker-icon")) return;
      var content = e.popup.getElement().querySelector(".leaflet-popup-content");
      content.setAttribute("tabindex", "-1");
      content.focus();
    });
    m.on("popupclose", function (e) {
      var node = opener, box = e.popup.getElement(), active = document.activeElement;
      opener = open = null;
      if (lifted) m.setMaxBounds(lifted); // back inside the land's extent
      lifted = null;
      if (!node || !node.isConnected) return;
      // only when the focus was in the popup (or lost with it), not when it moved on
      if (!active || active === document.body || (box && box.contains(active))) {
        node.focus({ preventScroll: true });
      }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape" || !open) return;
      e.preventDefault();
      m.closePopup(open);
    });
  }

  function textVersion() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-event]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        openEvent(button.getAttribute("data-event"), button.getAttribute("data-layer"));
      });
    });
  }

  /** Draw the page document in the element ``id``; returns the Leaflet map.
   * @param {string} id @param {PageDoc|string} source the document, or the id of the
   * <script type="application/json"> that holds it */
  function map(id, source) {
    var doc = typeof source === "string" ? JSON.parse(document.getElementById(source).textContent) : source;
    var container = document.getElementById(id);
    container.style.background = doc.view.background;
    var m = L.map(id, {
      zoomSnap: 0.25,
      maxZoom: doc.view.maxZoom,
      minZoom: 2,
      maxBounds: doc.view.maxBounds,
      maxBoundsViscosity: 1,
      gestureHandling: state.embedded,
    });
    state.map = m;
    state.doc = doc;
    m.createPane(SITE_PANE).style.zIndex = 620; // between markers (600) and tooltips (650)
    limitZoom(m);
    m.on("resize", function () {
      limitZoom(m);
    });
    openingView(m);
    attribution(m);
    var zoomClass = function () {
      container.classList.toggle("gs-zoomed-out", m.getZoom() < 5.5);
    };
    m.on("zoomend", zoomClass);
    zoomClass();
    doc.layers.forEach(function (layerDoc) {
      drawLayer(m, layerDoc);
    });
    drawAsides(m);
    layerControl(m);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(m);
    new Fullscreen().addTo(m);
    document.addEventListener("fullscreenchange", function () {
      m.invalidateSize();
    });
    new ResetView().addTo(m);
    keyFollowsLayers(m);
    textVersion();
    state.timeline = GeoStory.timeline ? GeoStory.timeline(doc, container) : null;
    if (GeoStory.navigate) GeoStory.navigate(doc, m);
    m.on("zoomend moveend resize", function () {
      pinFar(m);
    });
    pinFar(m);
    m.on("zoomend moveend overlayadd overlayremove resize", declutterNowAndLater);
    declutter();
    window.addEventListener("resize", reportHeight);
    focusPopups(m);
    if (state.embedded) listenForAutoHeight();
    reportHeight();
    return m;
  }

  return {
    map: map,
    openEvent: openEvent,
    popup: popup,
    setRange: setRange,
    highlight: highlight,
    boundsOf: boundsOf,
    find: find,
    dayText: dayText,
    styleOf: styleOf,
    el: el,
    state: state,
  };
})();
