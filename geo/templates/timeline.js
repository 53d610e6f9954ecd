/* The time strip under the map: every dated feature on one axis, a range with two handles
 * (WAI-ARIA sliders), a play button, and the range written out. The map shows only what the
 * range holds (GeoStory.setRange). A story without dates gets no strip. */
(function () {
  "use strict";
  var DAY = 86400000;
  var el = function (tag, cls, text) { return GeoStory.el(tag, cls, text); };
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  function date(day) { return new Date(day * DAY); }
  function dayOf(year, month, d) { return Math.round(Date.UTC(year, month, d) / DAY); }
  function monthStart(day) { var t = date(day); return dayOf(t.getUTCFullYear(), t.getUTCMonth(), 1); }
  function monthEnd(day) { var t = date(day); return dayOf(t.getUTCFullYear(), t.getUTCMonth() + 1, 0); }
  function addMonths(day, n) { var t = date(day); return dayOf(t.getUTCFullYear(), t.getUTCMonth() + n, 1); }
  function monthText(day) { var t = date(day); return MONTHS[t.getUTCMonth()] + " " + t.getUTCFullYear(); }

  /** The dated layers' extent, in whole years. */
  function extent(doc) {
    var lo = Infinity, hi = -Infinity;
    doc.layers.forEach(function (layer) {
      if (!layer.start) return;
      layer.start.concat(layer.end).forEach(function (d) {
        if (d === null) return;
        lo = Math.min(lo, d);
        hi = Math.max(hi, d);
      });
    });
    if (lo === Infinity) return null;
    return [dayOf(date(lo).getUTCFullYear(), 0, 1), dayOf(date(hi).getUTCFullYear(), 11, 31)];
  }

  function countText(counts) {
    return Object.keys(counts)
      .map(function (noun) { return counts[noun][0] + " of " + counts[noun][1] + " " + noun; })
      .join(", ");
  }

  GeoStory.timeline = function (doc, mapElement) {
    var span = extent(doc);
    if (!span) return null;
    var min = span[0], max = span[1];
    var range = [min, max];
    var box = el("section", "gs-timeline");
    box.setAttribute("aria-label", "Timeline");
    var head = el("div", "gs-tl-head");
    var play = el("button", "gs-tl-play", "▶ Play");
    play.type = "button";
    play.setAttribute("aria-pressed", "false");
    var all = el("button", "gs-tl-all", "All dates");
    all.type = "button";
    var shown = el("p", "gs-tl-range"); // what the range holds, written out
    var live = el("p", "gs-sr"); // announced politely, once the range settles
    live.setAttribute("aria-live", "polite");
    head.appendChild(play);
    head.appendChild(shown);
    head.appendChild(all);
    var track = el("div", "gs-tl-track");
    var band = el("div", "gs-tl-band");
    track.appendChild(band);
    box.appendChild(head);
    box.appendChild(track);
    box.appendChild(live);

    var pos = function (day) { return ((day - min) / (max - min + 1)) * 100; };
    ticks(track, min, max, pos);
    marks(track, doc, pos, max);
    var handles = [handle("Start of the period", 0), handle("End of the period", 1)];
    handles.forEach(function (h) { track.appendChild(h); });
    var anchor = mapElement.closest(".gs-map-box") || mapElement;
    anchor.parentNode.insertBefore(box, anchor.nextSibling);

    var announceTimer = null;
    function set(from, to, quiet) {
      from = Math.max(min, Math.min(from, max));
      to = Math.max(from, Math.min(to, max));
      range = [from, to];
      var counts = GeoStory.setRange(from, to);
      var text = monthText(from) + " – " + monthText(to) + (countText(counts) ? " · " + countText(counts) : "");
      shown.textContent = text;
      band.style.left = pos(from) + "%";
      band.style.width = pos(to + 1) - pos(from) + "%";
      handles[0].style.left = pos(from) + "%";
      handles[1].style.left = pos(to + 1) + "%";
      [from, to].forEach(function (day, i) {
        handles[i].setAttribute("aria-valuenow", String(day));
        handles[i].setAttribute("aria-valuetext", monthText(day));
      });
      handles[0].setAttribute("aria-valuemax", String(to));
      handles[1].setAttribute("aria-valuemin", String(from));
      clearTimeout(announceTimer);
      if (!quiet) announceTimer = setTimeout(function () { live.textContent = text; }, 600);
      box.dispatchEvent(new CustomEvent("gs-range", { detail: { from: from, to: to } }));
    }

    function handle(label, which) {
      var h = el("div", "gs-tl-handle gs-tl-handle-" + which);
      h.setAttribute("role", "slider");
      h.setAttribute("tabindex", "0");
      h.setAttribute("aria-label", label);
      h.setAttribute("aria-valuemin", String(min));
      h.setAttribute("aria-valuemax", String(max));
      h.addEventListener("keydown", function (e) {
        var day = range[which];
        var steps = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -12, PageUp: 12 };
        var next;
        if (e.key in steps) next = addMonths(day, steps[e.key]);
        else if (e.key === "Home") next = min;
        else if (e.key === "End") next = max;
        else return;
        e.preventDefault();
        stop();
        if (which === 0) set(monthStart(next), range[1]);
        else set(range[0], Math.max(range[0], monthEnd(next)));
      });
      return h;
    }

    function dayAt(clientX) {
      var rect = track.getBoundingClientRect();
      var f = Math.max(0, Math.min(1, (clientX - rect.left) / rect.width));
      return Math.round(min + f * (max - min));
    }
    var dragging = null;
    track.addEventListener("pointerdown", function (e) {
      var day = dayAt(e.clientX);
      dragging = Math.abs(day - range[0]) < Math.abs(day - range[1]) ? 0 : 1;
      track.setPointerCapture(e.pointerId);
      stop();
      move(e);
    });
    function move(e) {
      if (dragging === null) return;
      var day = dayAt(e.clientX);
      if (dragging === 0) set(monthStart(Math.min(day, range[1])), range[1]);
      else set(range[0], monthEnd(Math.max(day, range[0])));
    }
    track.addEventListener("pointermove", move);
    track.addEventListener("pointerup", function () {
      if (dragging !== null) handles[dragging].focus();
      dragging = null;
    });

    var timer = null;
    function stop() {
      clearInterval(timer);
      timer = null;
      play.textContent = "▶ Play";
      play.setAttribute("aria-pressed", "false");
    }
    play.addEventListener("click", function () {
      if (timer) return stop();
      var width = range[1] - range[0];
      if (range[0] === min && range[1] === max) width = 365; // from the start, a year at a time
      if (range[1] >= max) set(min, monthEnd(min + width), true);
      play.textContent = "❚❚ Pause";
      play.setAttribute("aria-pressed", "true");
      timer = setInterval(function () {
        if (range[1] >= max) return stop();
        var from = addMonths(range[0], 1);
        set(from, Math.min(max, monthEnd(addMonths(range[1], 1))), true);
      }, 700);
    });
    all.addEventListener("click", function () { stop(); set(min, max); });

    set(min, max, true);
    /** Widen the range just enough to hold [start, end]. */
    function include(start, end) {
      var last = end === null || end === undefined ? start : end;
      set(Math.min(range[0], monthStart(start)), Math.max(range[1], monthEnd(last)));
    }
    return {
      set: set,
      include: include,
      stop: stop,
      range: function () { return range.slice(); },
      extent: function () { return [min, max]; },
      element: box,
    };
  };

  function ticks(track, min, max, pos) {
    var first = date(min).getUTCFullYear(), last = date(max).getUTCFullYear();
    var every = Math.max(1, Math.ceil((last - first + 1) / 8)); // about eight labels
    for (var y = first; y <= last; y++) {
      var tick = el("span", "gs-tl-tick" + ((y - first) % every ? " gs-tl-minor" : ""), (y - first) % every ? "" : String(y));
      tick.style.left = pos(dayOf(y, 0, 1)) + "%";
      tick.setAttribute("aria-hidden", "true");
      track.appendChild(tick);
    }
  }

  /* Each dated feature as a dot (a day) or a span (a month, a year, a period), coloured as on
   * the map; one row per dated layer. */
  function marks(track, doc, pos, max) {
    var rows = doc.layers.filter(function (l) { return l.start; });
    rows.forEach(function (layer, row) {
      /*<big>*/ if (layer.packed) return binned(track, layer, row, pos); /*</big>*/
      for (var i = 0; i < layer.count; i++) {
        var start = layer.start[i], end = layer.end[i];
        if (start === null) continue;
        var open = end === null; // still going on
        var isSpan = open || end > start;
        var mark = el("span", isSpan ? "gs-tl-span" + (open ? " gs-tl-open" : "") : "gs-tl-dot");
        mark.setAttribute("aria-hidden", "true");
        mark.style.left = pos(start) + "%";
        if (isSpan) mark.style.width = Math.max(0.4, pos((open ? max : end) + 1) - pos(start)) + "%";
        mark.style.top = 22 + row * 9 + "px";
        mark.style.setProperty("--c", GeoStory.styleOf(layer, i).fillColor || layer.style.color);
        track.appendChild(mark);
      }
    });
    track.style.height = 30 + rows.length * 9 + "px";
  }
  /*<big>*/
  /* A large layer's features as a histogram: one bar per stretch of days that holds any, the
   * darker the more it holds (no element per feature). */
  var BINS = 200;

  function binned(track, layer, row, pos) {
    var lo = Infinity, hi = -Infinity, k;
    for (k = 0; k < layer.count; k++) {
      if (layer.start[k] === null) continue;
      lo = Math.min(lo, layer.start[k]);
      hi = Math.max(hi, layer.start[k]);
    }
    if (lo === Infinity) return;
    var width = Math.max(1, Math.ceil((hi - lo + 1) / BINS)), counts = [], most = 0;
    for (k = 0; k < layer.count; k++) {
      if (layer.start[k] === null) continue;
      var b = Math.floor((layer.start[k] - lo) / width);
      counts[b] = (counts[b] || 0) + 1;
      most = Math.max(most, counts[b]);
    }
    var colour = layer.style.fillColor || layer.style.color;
    counts.forEach(function (count, b) {
      var from = lo + b * width;
      var mark = el("span", "gs-tl-span gs-tl-bin");
      mark.setAttribute("aria-hidden", "true");
      mark.style.left = pos(from) + "%";
      mark.style.width = Math.max(0.2, pos(from + width) - pos(from)) + "%";
      mark.style.top = 22 + row * 9 + "px";
      mark.style.opacity = String(0.25 + 0.75 * count / most);
      mark.style.setProperty("--c", colour);
      track.appendChild(mark);
    });
  }
  /*</big>*/
})();
