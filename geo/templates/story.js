/* GeoStory: draws a story's page document (geo/contract.py) on a Leaflet map.
 * A large clustered point layer (a LayerDoc with ``packed``) is unpacked first (the map's
 * start-up is then asynchronous) and drawn by the large path: supercluster, a canvas, only
 * what is in view. The code between the big-markers is sent only to pages that hold one
 * (geo/assets.py); the markers are comments, so every other page runs the code without it.
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
 * @typedef {{type: "MultiPolygon"|"MultiLineString"|"Polygon"|"LineString", refs: string,
 *   offsets: number[][]}} ShapesDoc
 * @typedef {{quantum: number, coords: string, lengths: string}} ArcsDoc
 * @typedef {{name: string, kind: string, title: string,
 *   symbol: "area"|"line"|"dot"|"site"|"event", shape: string, style: LeafletStyle,
 *   categoryField: ?string, categoryStyles: Object<string, LeafletStyle>, show: boolean,
 *   control: boolean, interactive: boolean, cluster: boolean, count: number,
 *   lon?: number[], lat?: number[], shapes?: ShapesDoc, geometry?: Object[],
 *   columns: Object<string, Array>,
 *   popup: PopupRow[], titleField: ?(string|string[]), idField: ?string, ringField: ?string,
 *   ringStyle: ?LeafletStyle, bearingField: ?string, farFields: ?Array<string>,
 *   areaField: ?string, vagueField: ?string, labels: Labels,
 *   start: ?Array<?number>, end: ?Array<?number>, countAs: ?string,
 *   timeMode: "filter"|"status", packed?: PackedDoc}} LayerDoc
 * @typedef {{encoding: "int"|"dict"|"json", data: string, delta?: boolean, width?: number,
 *   values?: Array}} PackedColumn
 * @typedef {{threshold: number, grid: number, lon: PackedColumn, lat: PackedColumn,
 *   start: ?PackedColumn, end: ?PackedColumn, columns: Object<string, PackedColumn>}} PackedDoc
 * @typedef {{bounds: number[][], maxBounds: number[][], filled: boolean,
 *   focus: ?Array<number[]>, maxZoom: number, background: string}} ViewDoc
 * @typedef {{text: string, events: string[]}} Sentence
 * @typedef {{title: string, text: Sentence[], start: ?number, end: ?number,
 *   bounds: ?Array<number[]>, frame: string[], events: string[]}} ChapterDoc
 * @typedef {{version: number, view: ViewDoc, layers: LayerDoc[], arcs?: ArcsDoc,
 *   chapters: ChapterDoc[]}} PageDoc
 */
var GeoStory = (function () {
  "use strict";
  var state = {
    map: null,
    doc: null,
    arcs: null, // the page's arcs, read when a line or polygon is first drawn
    layers: {}, // name -> {doc, group, markers: {id: marker}, cluster}
    events: {}, // id -> marker, over every clustered layer (the first layer wins a shared id)
    eventLayer: null, // the first cluster group
    labels: [],
    rings: [], // uncertainty rings, scaled after every zoom
    asides: [], // events not drawn as points: a chip per far place, a badge per country
    range: null, // [first day, last day] the timeline shows, in days since 1970-01-01
    embedded: window.self !== window.top,
    // a reader who asked for less motion: no zoom, fade or cluster animations
    still: !!(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches),
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
    if (row.as === "heading") return el("h2", row["class"] || "", value);
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

  /* The feature's name on hover: its title field, or its title fields' values joined. */
  function titleOf(doc, i) {
    var f = doc.titleField;
    if (!Array.isArray(f)) return column(doc, f, i) || "";
    return f.map(function (name) { return column(doc, name, i); }).filter(present).join(": ");
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
      title: titleOf(doc, i),
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
      button.addEventListener("click", function (click) {
        L.DomEvent.stop(click);
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

  /* geo/shapes.py's zigzag LEB128 varints, as numbers. */
  function varints(text) {
    var bytes = atob(text), out = [], value = 0, shift = 0;
    for (var k = 0; k < bytes.length; k++) {
      var b = bytes.charCodeAt(k);
      value += (b & 127) * Math.pow(2, shift); // beyond 32 bits, unlike <<
      shift += 7;
      if (b < 128) {
        out.push(value % 2 ? -(value + 1) / 2 : value / 2);
        value = 0;
        shift = 0;
      }
    }
    return out;
  }

  /* The page's arcs (geo/shapes.py), each a list of [x, y] in degrees; read once. */
  function arcs() {
    if (state.arcs) return state.arcs;
    var a = state.doc.arcs, steps = varints(a.coords), at = 0, x = 0, y = 0;
    state.arcs = varints(a.lengths).map(function (n) {
      var arc = [];
      for (var k = 0; k < n; k++, at += 2) {
        x += steps[at];
        y += steps[at + 1];
        arc.push([x * a.quantum, y * a.quantum]);
      }
      return arc;
    });
    return state.arcs;
  }

  /* A ring or line: its arcs end to end (~i: arc i backwards), each join once. */
  function chain(refs, from, to) {
    var all = arcs(), out = [];
    for (var k = from; k < to; k++) {
      var r = refs[k], arc = r < 0 ? all[~r].slice().reverse() : all[r];
      for (var v = out.length ? 1 : 0; v < arc.length; v++) out.push(arc[v]);
    }
    return out;
  }

  /* Feature i of a ragged array as a GeoJSON geometry: offsets lead from parts to rings or
   * lines, and from those to their arcs. */
  function shapeOf(doc, i) {
    var s = doc.shapes, refs = s.arcRefs || (s.arcRefs = varints(s.refs));
    var depth = s.offsets.length, top = depth - 1;
    function level(d, from, to) {
      var items = [];
      for (var k = from; k < to; k++) {
        items.push(
          d === 0
            ? chain(refs, s.offsets[0][k], s.offsets[0][k + 1])
            : level(d - 1, s.offsets[d][k], s.offsets[d][k + 1]),
        );
      }
      return items;
    }
    return {
      type: s.type,
      coordinates: top === 0
        ? chain(refs, s.offsets[0][i], s.offsets[0][i + 1])
        : level(top - 1, s.offsets[top][i], s.offsets[top][i + 1]),
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

  /* What a label must not cover: events, clusters, sites (every icon but the labels), a site's
   * event count (drawn beside its icon) and the far-away chips at the frame's edge. Chips and
   * badges are never hidden: a label gives way to them. */
  var OBSTACLES = ".leaflet-marker-icon:not(.gs-label), .gs-site-badge, .gs-chip:not([hidden])";

  function markerBoxes() {
    if (!state.map) return [];
    var nodes = state.map.getContainer().querySelectorAll(OBSTACLES);
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
    /*<big>*/ if (state.big) { // a zoom's zoomend and moveend: placed once, before the next paint
      cancelAnimationFrame(state.bigFrame);
      state.bigFrame = requestAnimationFrame(declutter);
      clearTimeout(lateDeclutter);
      lateDeclutter = setTimeout(declutter, SETTLE_MS);
      return;
    } /*</big>*/
    declutter();
    clearTimeout(lateDeclutter);
    lateDeclutter = setTimeout(declutter, SETTLE_MS);
  }

  function declutter() {
    state.chipsAt = chipsAt();
    passThroughSites();
    var taken = markerBoxes();
    var frame = state.map.getContainer().getBoundingClientRect();
    var cut = function (box) { // by the frame's edge: a label shows whole or not at all
      return box.left < frame.left || box.right > frame.right || box.top < frame.top ||
        box.bottom > frame.bottom;
    };
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
          var hit = cut(box) || taken.some(function (other) {
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
      animate: !state.still,
    });
  }

  /** @param {LayerDoc} doc */
  function drawLayer(m, doc) {
    /*<big>*/ if (doc.packed) return drawBig(m, doc); /*</big>*/
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
    // the labels give way to the chips: place them again when a chip moved since they were
    if (state.labels.length && chipsAt() !== state.chipsAt) declutterNowAndLater();
  }

  /* Where the chips are shown (their container pixels and sizes), as one string. */
  function chipsAt() {
    return state.asides.map(function (aside) {
      if (!aside.chip || aside.node.hidden || !aside.at) return "";
      return [Math.round(aside.at.x), Math.round(aside.at.y), aside.node.offsetWidth, aside.node.offsetHeight].join(",");
    }).join(";");
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
        back.addEventListener("click", function (e) {
          L.DomEvent.stop(e); // the button leaves the page: the map must not take the click
          popupLayer.setContent(asideContent(m, aside, null, popupLayer));
          fitPopup(m, popupLayer, aside);
        });
        one.appendChild(back);
      }
      return one;
    }
    var box = el("article", "gs-popup gs-aside-list");
    box.appendChild(el("h2", "", shown.length + " events " + (aside.chip ? "in " : "across ") + aside.name));
    var list = el("ol");
    shown.forEach(function (i) {
      var li = el("li"), button = el("button", "gs-aside-item");
      button.type = "button";
      button.setAttribute("data-id", column(doc, doc.idField, i));
      button.appendChild(el("span", "gs-date", column(doc, "when", i)));
      button.appendChild(document.createTextNode(" " + (column(doc, "title", i) || "")));
      button.addEventListener("click", function (e) {
        L.DomEvent.stop(e); // the button leaves the page: the map must not take the click
        popupLayer.setContent(asideContent(m, aside, i, popupLayer));
        fitPopup(m, popupLayer, aside);
        var heading = popupLayer.getElement().querySelector("h2, .leaflet-popup-content");
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
      /*<big>*/ if (entry.big) return bigRange(entry, from, to, counts); /*</big>*/
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
      /*<big>*/ if (entry.big) return bigHighlight(entry, wanted); /*</big>*/
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
        /*<big>*/ var at = bigLatLng(state.layers[name], id);
        if (at) { bounds = bounds ? bounds.extend(at) : L.latLngBounds(at, at); return; } /*</big>*/
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
      /*<big>*/ if (entry && entry.big) {
        if (bigIndex(entry, id) >= 0) return { entry: entry, index: bigIndex(entry, id) };
        continue;
      } /*</big>*/
      if (!entry || !(id in entry.markers)) continue;
      return { entry: entry, index: entry.features.indexOf(entry.markers[id]) };
    }
    return null;
  }

  function openEvent(id, layerName) {
    /*<big>*/ var bigHit = bigFind(id, layerName);
    if (bigHit) return openBig(bigHit.entry, bigHit.index); /*</big>*/
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
    openClustered(marker, true);
    return true;
  }

  /* Zoom and spiderfy until a clustered marker shows, then open its popup. Without animations
   * (reduced motion) markercluster calls back before the map's zoom has ended, and the zoom's
   * end folds the spider again: then, once the map has settled, it is shown again from there. */
  function openClustered(marker, again) {
    marker.gsCluster.zoomToShowLayer(marker, function () {
      setTimeout(function () {
        if (marker.getElement()) marker.openPopup();
        else if (again) openClustered(marker, false);
      }, 0);
    });
  }

  /*<big>*/
  /* --- the large path: a packed layer, clustered by supercluster, drawn on a canvas ------- *
   * Only what is in view at the current zoom becomes Leaflet layers: a canvas circle per event,
   * a marker per cluster (a count, reachable by Tab). The date filter and the highlights
   * rebuild the cluster index (debounced); far and country-wide events go to the chips and
   * badges, as on the small path, through lightweight stand-ins in ``entry.features``. */

  // radius: 60 px at 256 px a tile, half again a cluster icon's 40 px. A cluster sits at its
  // events' centroid, so two can end closer than the radius: the margin keeps most icons
  // apart, and fewer markers keep a zoom quick (183 -> 83 in the 100k story's opening view).
  // keys: the most points in view that get a keyboard stand-in each (bigKeys). BIG_FOCUS:
  // Leaflet pans a marker that takes the focus into full view; here the pan would draw the
  // map again, removing or moving what Tab is stepping through, and the focus would fall back
  // to the page's start. The clusters and stand-ins stay where they are when focused.
  var BIG = { radius: 120, extent: 512, point: 5, lit: 7, rebuildMs: 60, listPage: 200, keys: 100 };
  var BIG_INT_NULL = -2147483648;

  /* Unpack what the document's packed layers need to be drawn (coordinates, days, and the
   * columns that set a symbol or find an event), then call ``then``, then unpack the columns
   * only popups read; false when there are no packed layers. The map is ready
   * (state.eventLayer) once every column is unpacked; a popup opened before shows when its
   * columns arrive. A fragment (#event=...) waits for every column. */
  function unpackThen(doc, then) {
    var packed = doc.layers.filter(function (l) { return l.packed && !l.gsUnpacked; });
    if (!packed.length) return false;
    var t0 = performance.now(), all = !!location.hash.replace(/^#/, "");
    var complain = function (err) {
      if (window.console) console.error("GeoStory: a large layer could not be unpacked: " + err);
    };
    Promise.all(packed.map(function (l) { return unpackLayer(l, all ? null : drawnColumns(l)); }))
      .then(function () {
        state.bigTimes = { unpack: performance.now() - t0 }; // ms since the unpacking began
        then();
        state.bigTimes.drawn = performance.now() - t0;
        return Promise.all(packed.map(function (l) { return unpackLayer(l, null); }));
      })
      .then(function () {
        state.bigTimes.all = performance.now() - t0;
        packed.forEach(function (l) {
          var entry = state.layers[l.name];
          if (entry && entry.big) bigIndexOf(entry, Infinity); // the whole index, at last
          l.gsComplete = true;
          if (entry && entry.big) bigKeys(entry); // their names have arrived
          (l.gsWaiting || []).forEach(function (f) { f(); });
        });
        var first = packed.filter(function (l) { return state.layers[l.name]; })[0];
        if (!state.eventLayer && first) state.eventLayer = state.layers[first.name].group;
      })
      .catch(complain);
    return true;
  }

  /* The columns the large path reads to draw events (ids come with the popups' columns: a
   * fragment, the only way to ask for an event before, waits for every column). */
  function drawnColumns(doc) {
    return [doc.categoryField, doc.bearingField, doc.areaField, doc.vagueField]
      .concat(doc.farFields || []).filter(function (f) { return f && doc.packed.columns[f]; });
  }

  function base64Bytes(text) {
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var k = 0; k < raw.length; k++) out[k] = raw.charCodeAt(k);
    return out;
  }

  /** @param {PackedColumn} col @returns {Promise<ArrayBuffer>} */
  function gunzip(col) {
    var stream = new Blob([base64Bytes(col.data)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }

  /** A packed column as an Array (int: an Int32Array, summed when delta-coded). */
  function unpackColumn(col, n) {
    return gunzip(col).then(function (buffer) {
      if (col.encoding === "json") return JSON.parse(new TextDecoder().decode(buffer));
      var k;
      if (col.encoding === "dict") {
        var codes = new ({ 1: Uint8Array, 2: Uint16Array, 4: Uint32Array }[col.width])(buffer);
        var out = new Array(n);
        for (k = 0; k < n; k++) out[k] = col.values[codes[k]];
        return out;
      }
      var ints = new Int32Array(buffer);
      if (col.delta) for (k = 1; k < ints.length; k++) ints[k] += ints[k - 1];
      return ints;
    });
  }

  function days(ints) {
    var out = new Array(ints.length);
    for (var k = 0; k < ints.length; k++) out[k] = ints[k] === BIG_INT_NULL ? null : ints[k];
    return out;
  }

  /** Unpack a layer's coordinates and days (once), and its columns ``names`` (null: all).
   * @param {LayerDoc} doc @param {?Array<string>} names */
  function unpackLayer(doc, names) {
    var p = doc.packed, n = doc.count, scale = Math.round(1 / p.grid), first = !doc.gsUnpacked;
    doc.gsUnpacked = true;
    if (first) doc.columns = {};
    names = (names || Object.keys(p.columns)).filter(function (name) { return !(name in doc.columns); });
    names.forEach(function (name) { doc.columns[name] = null; }); // on its way
    var parts = (first ? [p.lon, p.lat, p.start, p.end] : [null, null, null, null])
      .concat(names.map(function (k) { return p.columns[k]; }));
    return Promise.all(parts.map(function (col) { return col ? unpackColumn(col, n) : null; }))
      .then(function (cols) {
        if (first) {
          ["lon", "lat"].forEach(function (key, k) {
            var out = new Float64Array(n);
            for (var i = 0; i < n; i++) out[i] = cols[k][i] / scale;
            doc[key] = out;
          });
          doc.start = cols[2] ? days(cols[2]) : null;
          doc.end = cols[3] ? days(cols[3]) : null;
        }
        names.forEach(function (name, k) { doc.columns[name] = cols[4 + k]; });
      });
  }

  /* A large layer's popup; before its columns are all unpacked, a line that is replaced by
   * the popup once they are. */
  function bigPopup(doc, i, popupLayer) {
    if (doc.gsComplete) return popup(doc, i);
    (doc.gsWaiting = doc.gsWaiting || []).push(function () {
      popupLayer.setContent(popup(doc, i));
    });
    return el("p", "gs-popup", "Loading…");
  }

  /* The quick index's points: the events the timeline shows, pooled into cells an eighth of
   * a cluster's radius wide at level ``z`` (some thousands of cells for a million events over
   * a country: the index is built in milliseconds, not a second), each a point at its events'
   * mean place that carries their count ``n``; a cell of one event is that event, where it
   * is. Clusters of cells sum the counts, so every event is counted once; where the clusters
   * fall differs from the whole index's, as clustering is greedy (as it did when the quick
   * index clustered the events themselves). */
  function bigCells(entry, z) {
    var doc = entry.doc, big = entry.big, shown = entry.shown, points = big.points;
    var size = BIG.radius / (BIG.extent * Math.pow(2, z)) / 8, m = points.length;
    var xs = new Int32Array(m), ys = new Int32Array(m), k, i;
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (k = 0; k < m; k++) {
      i = points[k];
      if (!shown[i]) continue;
      var sin = Math.sin(doc.lat[i] * Math.PI / 180);
      var y = 0.5 - 0.25 * Math.log((1 + sin) / (1 - sin)) / Math.PI; // supercluster's latY
      xs[k] = Math.floor((doc.lon[i] / 360 + 0.5) / size);
      ys[k] = Math.floor(Math.min(Math.max(y, 0), 1) / size);
      x0 = Math.min(x0, xs[k]); x1 = Math.max(x1, xs[k]);
      y0 = Math.min(y0, ys[k]); y1 = Math.max(y1, ys[k]);
    }
    // cells found in a grid over the events' extent, or by a Map when that grid is too large
    var w = x1 - x0 + 1, grid = w * (y1 - y0 + 1) <= 4 * m ? new Int32Array(w * (y1 - y0 + 1)).fill(-1) : null;
    var slot = grid ? null : new Map(), first = [], n = [], lon = [], lat = [], lit = [];
    for (k = 0; k < m; k++) {
      i = points[k];
      if (!shown[i]) continue;
      var key = (ys[k] - y0) * w + xs[k] - x0, c = grid ? grid[key] : slot.get(key);
      if (c === undefined || c < 0) {
        c = first.length;
        if (grid) grid[key] = c; else slot.set(key, c);
        first.push(i); n.push(0); lon.push(0); lat.push(0); lit.push(false);
      }
      n[c] += 1;
      lon[c] += doc.lon[i];
      lat[c] += doc.lat[i];
      lit[c] = lit[c] || big.lit[i] === 1;
    }
    return first.map(function (i, c) {
      return { geometry: { coordinates: [lon[c] / n[c], lat[c] / n[c]] }, properties: { i: i, n: n[c], lit: lit[c] } };
    });
  }

  /* The events a feature of an index stands for: a cluster's, a quick index's cell's, or 1. */
  function bigCount(f) {
    return f.properties.n || f.properties.point_count || 1;
  }

  /* A point as supercluster reads it, made on demand (no object per coordinate). */
  function BigPoint(entry, i) {
    this.entry = entry;
    this.i = i;
  }
  Object.defineProperty(BigPoint.prototype, "geometry", {
    get: function () { return { coordinates: [this.entry.doc.lon[this.i], this.entry.doc.lat[this.i]] }; },
  });
  Object.defineProperty(BigPoint.prototype, "properties", {
    get: function () { return { i: this.i, lit: this.entry.big.lit[this.i] === 1 }; },
  });

  /* A far or country-wide event, as the chips and badges (drawAsides) read it. */
  function asideStandIn(doc, i, chip, area, far) {
    return {
      gsChip: chip, gsArea: area, gsFar: far,
      get gsId() { return column(doc, doc.idField, i); }, // ids may arrive after the drawing
      getLatLng: function () { return L.latLng(doc.lat[i], doc.lon[i]); },
    };
  }

  /** @param {LayerDoc} doc */
  function drawBig(m, doc) {
    var group = L.featureGroup(), drawn = L.layerGroup();
    group.addLayer(drawn);
    var n = doc.count;
    var entry = { doc: doc, group: group, markers: {}, cluster: null, features: [],
      shown: new Array(n).fill(true), aside: L.layerGroup() };
    var big = entry.big = { drawn: drawn, points: null, all: null, lit: new Uint8Array(n), litCount: 0,
      renderer: L.canvas({ padding: 0.2 }), ids: null, index: null, timer: null, byIndex: {},
      visible: 0, pool: [], dots: [], keys: [] };
    var none = [], bearings = doc.columns[doc.bearingField] || none;
    var places = (doc.farFields && doc.columns[doc.farFields[0]]) || none;
    var areas = doc.columns[doc.areaField] || none;
    var points = new Int32Array(n), count = 0;
    for (var i = 0; i < n; i++) {
      var far = present(bearings[i]);
      var chip = far && doc.farFields ? places[i] : null;
      var area = present(areas[i]) ? areas[i] : null;
      if (chip || area) entry.features[i] = asideStandIn(doc, i, chip, area, far);
      else points[count++] = i;
    }
    big.points = points.subarray(0, count);
    bigRebuild(entry, Math.floor(m.getZoom()));
    group.on("add", function () { bigRedraw(m, entry); });
    m.on("moveend", function () { if (m.hasLayer(group)) bigRedraw(m, entry); });
    labelMarkers(doc).forEach(function (label) { group.addLayer(label); });
    state.layers[doc.name] = entry;
    state.big = true;
    if (doc.show) group.addTo(m);
    return entry;
  }

  /* The cluster index of the events the timeline shows (and whether each holds a highlight).
   * ``upTo`` (the opening): a quick index of the levels up to that zoom alone, drawn first and
   * kept for those levels until the reader zooms in or filters; the whole index follows
   * (bigIndexOf), before the map is ready. */
  function bigRebuild(entry, upTo) {
    var big = entry.big, top = state.doc.view.maxZoom;
    clearTimeout(big.timer);
    big.timer = null;
    // no level below the map's least zoom: the map never shows it
    var least = Math.min(top, Math.max(0, Math.floor(state.map.getMinZoom())));
    var options = { radius: BIG.radius, extent: BIG.extent, minZoom: least,
      maxZoom: upTo === undefined ? top : Math.max(least, Math.min(top, upTo)) };
    var quick = options.maxZoom < top, points;
    if (quick) {
      points = bigCells(entry, options.maxZoom);
      options.map = function (p) { return { n: p.n, lit: p.lit }; };
      options.reduce = function (acc, p) { acc.n += p.n; acc.lit = acc.lit || p.lit; };
    } else {
      // made once, at the first whole index (after the opening is drawn), for every later one
      big.all = big.all || Array.prototype.map.call(big.points, function (i) { return new BigPoint(entry, i); });
      points = big.all.filter(function (p) { return entry.shown[p.i]; });
      if (big.litCount) {
        options.map = function (p) { return { lit: p.lit }; };
        options.reduce = function (acc, p) { acc.lit = acc.lit || p.lit; };
      }
    }
    var index = new Supercluster(options).load(points);
    if (!quick) {
      big.index = index;
      big.quick = null;
    } else {
      big.quick = index;
      big.quickZoom = options.maxZoom;
      big.index = null;
    }
  }

  /* The index that draws zoom ``z``: the opening's quick one while it holds that level. */
  function bigIndexOf(entry, z) {
    var big = entry.big;
    if (big.quick && z <= big.quickZoom) return big.quick;
    if (!big.index) {
      var quick = big.quick, quickZoom = big.quickZoom;
      bigRebuild(entry);
      big.quick = quick; // kept for its levels: the view does not change under the reader
      big.quickZoom = quickZoom;
    }
    return big.index;
  }

  function bigSoon(entry) {
    var big = entry.big;
    clearTimeout(big.timer);
    big.timer = setTimeout(function () {
      bigRebuild(entry);
      if (state.map.hasLayer(entry.group)) bigRedraw(state.map, entry);
    }, BIG.rebuildMs);
  }

  function bigFlush(entry) {
    if (entry.big.timer === null) return;
    bigRebuild(entry);
    bigRedraw(state.map, entry);
  }

  function bigCountText(count) {
    return count >= 10000 ? Math.round(count / 1000) + "k" : count >= 1000 ? Math.round(count / 100) / 10 + "k" : String(count);
  }

  /* What is in view, at the zoom's whole level: clusters as markers, events on the canvas. */
  function bigRedraw(m, entry) {
    var big = entry.big, doc = entry.doc, noun = doc.countAs || "features";
    if (!m.hasLayer(entry.group)) return;
    // A dot whose popup is open stays (removing it would close the popup on every pan,
    // the popup's own pan into view included), unless it is no longer drawn on its own.
    var open = null;
    big.dots.forEach(function (dot) {
      if (dot.isPopupOpen()) open = dot;
      else big.drawn.removeLayer(dot);
    });
    big.dots = [];
    big.byIndex = {};
    big.visible = 0;
    var pooled = 0;
    var b = m.getBounds().pad(0.1);
    var box = [Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()), Math.min(180, b.getEast()), Math.min(85, b.getNorth())];
    var index = bigIndexOf(entry, Math.floor(m.getZoom()));
    index.getClusters(box, Math.floor(m.getZoom())).forEach(function (f) {
      var latlng = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
      var count = bigCount(f);
      if (count > 1) { // a cluster, or a quick index's cell of several events
        big.visible += count;
        bigClusterMarker(m, entry, pooled++, f, latlng, count + " " + noun + " here: zoom in").gsFrom = index;
        return;
      }
      var i = f.properties.i;
      big.visible += 1;
      var style = styleOf(doc, i), lit = big.lit[i] === 1;
      var vague = column(doc, doc.vagueField, i) === true;
      var look = {
        renderer: big.renderer,
        radius: lit ? BIG.lit : BIG.point,
        color: lit ? "#000000" : vague ? style.fillColor || style.color : "#ffffff",
        weight: lit ? 3 : 1.5,
        opacity: 1,
        fillColor: style.fillColor || style.color,
        fillOpacity: vague ? 0.15 : 0.9,
      };
      if (open && open.gsIndex === i) {
        big.byIndex[i] = open.setStyle(look);
        big.dots.push(open);
        open = null;
        return;
      }
      var dot = L.circleMarker(latlng, look);
      Object.defineProperty(dot, "gsId", { get: function () { return column(doc, doc.idField, i); } });
      dot.gsIndex = i;
      if (doc.interactive && doc.popup.length) {
        dot.bindPopup(function () { return bigPopup(doc, i, dot.getPopup()); }, popupOptions(m));
      }
      big.byIndex[i] = dot;
      big.dots.push(dot);
      big.drawn.addLayer(dot);
    });
    if (open) big.drawn.removeLayer(open);
    big.pool.splice(pooled).forEach(function (marker) { big.drawn.removeLayer(marker); });
    bigKeys(entry);
  }

  /* A point on the canvas is no element, so Tab cannot reach it: while few are in view, each
   * gets a transparent marker over it that Tab reaches and Enter (or a click) opens the point's
   * popup with; focus comes back to it when the popup closes (focusPopups). */
  function bigKeys(entry) {
    var big = entry.big, doc = entry.doc;
    // a point's name (its date and title) comes with the popups' columns (unpackThen)
    var few = big.dots.length <= BIG.keys && doc.interactive && doc.popup.length && doc.gsComplete;
    // the stand-in of a point whose popup is open stays, as its point does (bigRedraw): a
    // popup's pan into view must not take the focus from under it
    var kept = big.keys.filter(function (key) {
      var stays = few && key.gsDot.isPopupOpen() && big.dots.indexOf(key.gsDot) >= 0;
      if (!stays) big.drawn.removeLayer(key);
      return stays;
    });
    big.keys = kept;
    if (!few) return;
    big.dots.forEach(function (dot) {
      if (kept.length && kept[0].gsDot === dot) return;
      var title = titleOf(doc, dot.gsIndex), size = 2 * BIG.lit + 2;
      var key = L.marker(dot.getLatLng(), {
        icon: L.divIcon({ className: "gs-big-key", iconSize: L.point(size, size) }),
        title: title,
        autoPanOnFocus: false, // BIG_FOCUS
      });
      var open = function () { dot.openPopup(); };
      key.on("click", open);
      key.on("keypress", function (e) { if (e.originalEvent.keyCode === 13) open(); }); // Enter
      dot.gsKey = key;
      key.gsDot = dot;
      big.keys.push(key);
      big.drawn.addLayer(key);
      key.getElement().setAttribute("aria-label", title);
    });
  }

  /* The ``k``th cluster in view: a marker of the last drawing moved and relabelled, or a new
   * one (no elements made anew on every pan and zoom). */
  function bigClusterMarker(m, entry, k, f, latlng, title) {
    var big = entry.big, count = bigCount(f), marker = big.pool[k];
    var size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    if (!marker) {
      var inner = el("div");
      inner.appendChild(el("span"));
      marker = big.pool[k] = L.marker(latlng, {
        icon: L.divIcon({ html: inner, iconSize: L.point(40, 40), className: "marker-cluster gs-big-cluster" }),
        riseOnHover: true,
        autoPanOnFocus: false, // its pan would draw the map again, under the focus (BIG_FOCUS)
      });
      var open = function () { bigClusterClick(m, entry, marker.gsFeature, marker.getLatLng(), marker.gsFrom); };
      marker.on("click", open);
      marker.on("keypress", function (e) { if (e.originalEvent.keyCode === 13) open(); }); // Enter
      big.drawn.addLayer(marker);
    } else {
      marker.setLatLng(latlng);
    }
    marker.gsFeature = f;
    var node = marker.getElement();
    node.querySelector("span").textContent = bigCountText(count);
    ["small", "medium", "large"].forEach(function (s) { node.classList.toggle("marker-cluster-" + s, s === size); });
    node.classList.toggle("gs-highlight", !!f.properties.lit);
    node.title = title;
    node.setAttribute("aria-label", title);
    return marker;
  }

  /* A cluster zooms in to where it splits, around itself; one that never splits (its events
   * share a place) lists its events, each opening its popup. */
  function bigClusterClick(m, entry, f, latlng, index) {
    var id = f.properties.cluster_id;
    // a quick index's cell of several events parts at the next level, in the whole index
    var zoom = f.properties.cluster ? index.getClusterExpansionZoom(id) : index.options.maxZoom + 1;
    if (zoom <= m.getMaxZoom() && m.getZoom() < m.getMaxZoom()) {
      m.setView(latlng, Math.min(m.getMaxZoom(), Math.max(zoom, Math.floor(m.getZoom()) + 1)));
      return;
    }
    var indices = index.getLeaves(id, Infinity).map(function (p) { return p.properties.i; });
    indices.sort(function (a, b) { return a - b; }); // the layer's order: by date
    var popupLayer = L.popup(popupOptions(m)).setLatLng(latlng);
    popupLayer.setContent(bigList(m, entry, indices, popupLayer, BIG.listPage));
    popupLayer.openOn(m);
  }

  /* A button that replaces the popup's content: its click must not reach the map, which would
   * no longer find the button inside the popup and close it. */
  function popupButton(className, text) {
    var button = el("button", className, text);
    button.type = "button";
    L.DomEvent.disableClickPropagation(button);
    return button;
  }

  /* The events of a place that holds many, ``shown`` of them listed (more on request). */
  function bigList(m, entry, indices, popupLayer, shown) {
    var doc = entry.doc, noun = doc.countAs || "features";
    var box = el("article", "gs-popup gs-aside-list");
    box.appendChild(el("h2", "", indices.length + " " + noun + " at this place"));
    var list = el("ol");
    indices.slice(0, shown).forEach(function (i) {
      var li = el("li"), button = popupButton("gs-aside-item");
      button.setAttribute("data-id", column(doc, doc.idField, i));
      button.appendChild(el("span", "gs-date", column(doc, "when", i)));
      button.appendChild(document.createTextNode(" " + (column(doc, "title", i) || titleOf(doc, i))));
      button.addEventListener("click", function (e) {
        L.DomEvent.stop(e); // the button leaves the page: the map must not take the click
        var one = popup(doc, i);
        var back = popupButton("gs-aside-back", "← All " + indices.length + " " + noun + " here");
        back.addEventListener("click", function (e) {
          L.DomEvent.stop(e);
          popupLayer.setContent(bigList(m, entry, indices, popupLayer, shown));
        });
        one.appendChild(back);
        popupLayer.setContent(one);
        var heading = popupLayer.getElement().querySelector("h2, .leaflet-popup-content");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    box.appendChild(list);
    if (indices.length > shown) {
      var more = popupButton("gs-aside-more", "Show " + Math.min(BIG.listPage, indices.length - shown) + " more");
      more.addEventListener("click", function (e) {
        L.DomEvent.stop(e);
        popupLayer.setContent(bigList(m, entry, indices, popupLayer, shown + BIG.listPage));
      });
      box.appendChild(more);
    }
    return box;
  }

  /* The timeline's range: which events the index holds; the counts, at once. */
  function bigRange(entry, from, to, counts) {
    var doc = entry.doc, n = doc.count, changed = false, c = null;
    if (doc.countAs) c = counts[doc.countAs] || (counts[doc.countAs] = [0, 0]);
    for (var i = 0; i < n; i++) {
      var show = inRange(doc, i, from, to);
      if (c) { c[0] += show ? 1 : 0; c[1] += 1; }
      if (show !== entry.shown[i]) { entry.shown[i] = show; changed = true; }
    }
    if (changed) bigSoon(entry);
  }

  function bigHighlight(entry, wanted) {
    var big = entry.big, lit = new Uint8Array(entry.doc.count), count = 0;
    Object.keys(wanted).forEach(function (id) {
      var i = bigIndex(entry, id);
      if (i >= 0 && !lit[i]) { lit[i] = 1; count += 1; }
    });
    var same = count === big.litCount && lit.every(function (v, i) { return v === big.lit[i]; });
    big.lit = lit;
    big.litCount = count;
    if (!same) bigSoon(entry);
  }

  /** The row of feature ``id`` in a large layer, or -1 (the ids are indexed on first use). */
  function bigIndex(entry, id) {
    var big = entry.big;
    if (!big.ids) {
      var ids = entry.doc.columns[entry.doc.idField];
      if (!ids) return -1; // not unpacked yet
      big.ids = new Map();
      for (var i = 0; i < ids.length; i++) {
        if (ids[i] !== null && !big.ids.has(String(ids[i]))) big.ids.set(String(ids[i]), i);
      }
    }
    var at = big.ids.get(String(id));
    return at === undefined ? -1 : at;
  }

  function bigLatLng(entry, id) {
    if (!entry.big) return null;
    var i = bigIndex(entry, id);
    if (i < 0 || (entry.features[i] && entry.features[i].gsFar)) return null;
    return L.latLng(entry.doc.lat[i], entry.doc.lon[i]);
  }

  /* The large layer that holds ``id`` (a small layer's event wins a shared id). */
  function bigFind(id, layerName) {
    var names = layerName ? [layerName] : Object.keys(state.layers);
    if (!layerName && id in state.events) return null;
    for (var k = 0; k < names.length; k++) {
      var entry = state.layers[names[k]];
      if (!entry || !entry.big) continue;
      var i = bigIndex(entry, id);
      if (i >= 0) return { entry: entry, index: i };
    }
    return null;
  }

  function openBig(entry, i) {
    var doc = entry.doc, m = state.map;
    if (!entry.shown[i] && state.timeline) state.timeline.include(doc.start[i], doc.end[i]);
    if (!m.hasLayer(entry.group)) m.addLayer(entry.group);
    bigFlush(entry);
    m.getContainer().scrollIntoView({ block: "nearest" });
    var standIn = entry.features[i];
    if (standIn) return openAsideOf(standIn);
    var latlng = L.latLng(doc.lat[i], doc.lon[i]);
    m.setView(latlng, m.getMaxZoom(), { animate: false }); // redrawn on moveend
    var dot = entry.big.byIndex[i];
    if (dot) {
      dot.openPopup();
    } else { // still in a pile at the deepest zoom: its popup, at its place
      L.popup(popupOptions(m)).setLatLng(latlng).setContent(popup(doc, i)).openOn(m);
    }
    return true;
  }
  /*</big>*/

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

  /* Full screen takes the box that holds the key and the map: the key stays above the map,
   * which takes the rest of the screen (story.css). */
  var Fullscreen = mapButton("gs-fullscreen", "Full screen", "Show the map full screen", "⤢",
    function (m) {
      var box = m.getContainer().closest(".gs-map-box") || m.getContainer();
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
      source = source && (source.gsKey || source); // a canvas point's stand-in (bigKeys)
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
    /*<big>*/ var m = state.doc === doc ? state.map : null; // resumed once the big layers are unpacked
    if (!m) { /*</big>*/
    container.style.background = doc.view.background;
    var m = L.map(id, {
      zoomSnap: 0.25,
      maxZoom: doc.view.maxZoom,
      minZoom: 2,
      maxBounds: doc.view.maxBounds,
      maxBoundsViscosity: 1,
      gestureHandling: state.embedded,
      zoomAnimation: !state.still,
      fadeAnimation: !state.still,
      markerZoomAnimation: !state.still,
    });
    state.map = m;
    state.doc = doc;
    state.arcs = null;
    if (state.still) { // reduced motion: no glide in a pan either (a popup's pan into view)
      m.panBy = function (offset, options) {
        return L.Map.prototype.panBy.call(m, offset, L.extend({}, options, { animate: false }));
      };
      m.setView = function (center, zoom, options) {
        return L.Map.prototype.setView.call(m, center, zoom, L.extend({}, options, { animate: false }));
      };
    }
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
    /*<big>*/ if (unpackThen(doc, function () { map(id, doc); })) return m;
    } /*</big>*/
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
