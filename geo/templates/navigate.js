/* Chapters, deep links and the host page: every way a reader or an article moves the map.
 *
 * The URL fragment holds the state, kept up to date with replaceState (no history entry per
 * step): #chapter=<n>, #event=<id>, #time=<from>..<to> (YYYY, YYYY-MM or YYYY-MM-DD),
 * #view=<lat>,<lon>,<zoom>; the last three combine with "&". A host page may send
 * {type: "geo-story:goto", chapter|event|time|view: ...} by postMessage; only well-formed
 * messages from the parent window are obeyed. */
(function () {
  "use strict";
  var DAY = 86400000;
  var PREFIX = "geo-story: ";

  /** A day number from 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD': its first day, or (last) its last. */
  function parseDay(text, last) {
    var m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(text || "");
    if (!m) return null;
    var year = +m[1], month = m[2] ? +m[2] - 1 : last ? 11 : 0;
    if (month > 11) return null;
    var day = m[3] ? +m[3] : last ? new Date(Date.UTC(year, month + 1, 0)).getUTCDate() : 1;
    var date = new Date(Date.UTC(year, month, day));
    if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return null;
    return Math.round(date.getTime() / DAY);
  }

  function monthText(day) {
    var d = new Date(day * DAY);
    return d.getUTCFullYear() + "-" + String(d.getUTCMonth() + 1).padStart(2, "0");
  }

  function parseFragment(hash) {
    var out = {};
    (hash || "").replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) return;
      var i = part.indexOf("=");
      if (i < 1) return;
      out[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1));
    });
    return out;
  }

  GeoStory.navigate = function (doc, m) {
    var story = GeoStory.state;
    var chapters = doc.chapters || [];
    var reduced = story.still; // the reader asked for less motion: no flights
    var current = null; // the chapter shown (0-based), null while the reader explores
    var openId = null; // the feature whose popup is open
    var moved = false; // the reader moved the map: the view belongs in the fragment
    var written = null;
    var panel = chapters.length ? chapterPanel() : null;

    function timeline() { return story.timeline; }

    /* --- the fragment ------------------------------------------------------------------- */

    function fragment() {
      if (current !== null) return "chapter=" + (current + 1);
      var parts = [];
      if (openId !== null) parts.push("event=" + encodeURIComponent(openId));
      var t = timeline();
      if (t) {
        var r = t.range(), e = t.extent();
        if (r[0] !== e[0] || r[1] !== e[1]) parts.push("time=" + monthText(r[0]) + ".." + monthText(r[1]));
      }
      if (moved && openId === null) {
        var c = m.getCenter();
        parts.push("view=" + c.lat.toFixed(4) + "," + c.lng.toFixed(4) + "," + +m.getZoom().toFixed(2));
      }
      return parts.join("&");
    }

    function write() {
      var text = fragment();
      if (text === written) return;
      written = text;
      var url = text ? "#" + text : location.pathname + location.search;
      try {
        history.replaceState(history.state, "", url);
      } catch (err) { // a sandboxed frame may refuse: replace the location, still no history entry
        try { location.replace("#" + text); } catch (err2) { /* nothing more to try */ }
      }
    }

    /* --- going places ------------------------------------------------------------------- */

    function goEvent(id) {
      var hit = GeoStory.find(id);
      if (!hit || hit.index < 0) return warn("no feature with id " + JSON.stringify(id));
      leaveChapters(true);
      var doc = hit.entry.doc, i = hit.index;
      var t = timeline();
      if (t && doc.start && doc.start[i] !== null) {
        var end = doc.end[i] === null ? doc.start[i] : doc.end[i];
        t.set(t.extent()[0], parseDay(monthText(end), true));
      }
      GeoStory.openEvent(id, doc.name);
      openId = id;
      write();
      return true;
    }

    function goTime(text) {
      var parts = String(text).split("..");
      var from = parseDay(parts[0], false), to = parseDay(parts[1], true);
      if (parts.length !== 2 || from === null || to === null || from > to) return warn("malformed time " + JSON.stringify(text));
      if (!timeline()) return warn("this map has no timeline");
      leaveChapters(true);
      timeline().set(from, to);
      write();
      return true;
    }

    function goView(value) {
      var v = Array.isArray(value) ? value : String(value).split(",").map(Number);
      var ok = v.length === 3 && v.every(function (x) { return typeof x === "number" && isFinite(x); });
      if (!ok || Math.abs(v[0]) > 90 || Math.abs(v[1]) > 180) return warn("malformed view " + JSON.stringify(value));
      leaveChapters(true);
      m.setView([v[0], v[1]], v[2], { animate: false });
      moved = true;
      write();
      return true;
    }

    function goChapter(n) {
      var i = Number(n) - 1;
      if (!chapters.length || !(Number.isInteger(i) && i >= 0 && i < chapters.length)) return warn("no chapter " + JSON.stringify(n));
      showChapter(i);
      return true;
    }

    function warn(message) {
      if (window.console) console.warn(PREFIX + message + "; keeping the current view");
      return false;
    }

    function apply(hash) {
      var f = parseFragment(hash);
      if (f.chapter !== undefined) return goChapter(f.chapter);
      if (f.time !== undefined) goTime(f.time);
      if (f.view !== undefined) goView(f.view);
      if (f.event !== undefined) goEvent(f.event);
    }

    /* --- chapters ----------------------------------------------------------------------- */

    function chapterPanel() {
      var el = GeoStory.el;
      var box = el("section", "gs-chapters");
      box.setAttribute("aria-label", "Chapters");
      var nav = el("div", "gs-ch-nav");
      var prev = el("button", "gs-ch-prev", "‹ Previous");
      var progress = el("span", "gs-ch-progress");
      var next = el("button", "gs-ch-next", "Next ›");
      var explore = el("button", "gs-ch-explore", "Explore the map freely");
      [prev, next, explore].forEach(function (b) { b.type = "button"; });
      [prev, progress, next, explore].forEach(function (n) { nav.appendChild(n); });
      var body = el("div", "gs-ch-body");
      body.setAttribute("aria-live", "polite");
      box.appendChild(nav);
      box.appendChild(body);
      var mapBox = m.getContainer().closest(".gs-map-box") || m.getContainer();
      mapBox.parentNode.insertBefore(box, mapBox);
      prev.addEventListener("click", function () { showChapter(Math.max(0, (current || 0) - 1)); });
      next.addEventListener("click", function () {
        showChapter(current === null ? 0 : Math.min(chapters.length - 1, current + 1));
      });
      explore.addEventListener("click", function () {
        if (current === null) showChapter(lastChapter);
        else leaveChapters(false);
      });
      return { box: box, body: body, prev: prev, next: next, progress: progress, explore: explore };
    }

    var lastChapter = 0;

    function render(i) {
      var el = GeoStory.el, ch = chapters[i];
      panel.body.textContent = "";
      panel.body.appendChild(el("h2", "gs-ch-title", ch.title));
      var p = el("p", "gs-ch-text");
      ch.text.forEach(function (sentence) {
        p.appendChild(document.createTextNode(sentence.text + " "));
        sentence.events.forEach(function (id) {
          var link = el("a", "gs-ch-event", "[" + eventLabel(id) + "]");
          link.href = "#event=" + encodeURIComponent(id);
          link.addEventListener("click", function (e) {
            e.preventDefault();
            goEvent(id);
          });
          p.appendChild(link);
          p.appendChild(document.createTextNode(" "));
        });
      });
      panel.body.appendChild(p);
      panel.progress.textContent = i + 1 + " / " + chapters.length;
      panel.prev.disabled = i === 0;
      panel.next.disabled = i === chapters.length - 1;
      panel.explore.textContent = "Explore the map freely";
      panel.box.classList.remove("gs-exploring");
    }

    function eventLabel(id) {
      var hit = GeoStory.find(id);
      var when = hit && hit.entry.doc.columns.when ? hit.entry.doc.columns.when[hit.index] : null;
      return when || id;
    }

    function showChapter(i) {
      var ch = chapters[i];
      current = i;
      lastChapter = i;
      openId = null;
      m.closePopup();
      render(i);
      var t = timeline();
      if (t) {
        var e = t.extent();
        t.set(ch.start === null ? e[0] : ch.start, ch.end === null ? e[1] : ch.end, true);
      }
      GeoStory.highlight(ch.events);
      var bounds = ch.bounds ? L.latLngBounds(ch.bounds) : GeoStory.boundsOf(ch.frame.length ? ch.frame : ch.events);
      if (bounds && bounds.isValid()) {
        var options = { padding: [30, 30], maxZoom: 6 };
        if (reduced) m.fitBounds(bounds, Object.assign(options, { animate: false }));
        else m.flyToBounds(bounds, Object.assign(options, { duration: 1.2 }));
      }
      moved = false;
      write();
    }

    /* The reader leaves the chapters to explore; the panel keeps a way back. */
    function leaveChapters(silently) {
      if (current === null) return;
      current = null;
      GeoStory.highlight([]);
      if (!panel) return;
      panel.box.classList.add("gs-exploring");
      panel.explore.textContent = "Back to the chapters (" + (lastChapter + 1) + " / " + chapters.length + ")";
      if (!silently) {
        var t = timeline();
        if (t) t.set(t.extent()[0], t.extent()[1], true);
        write();
      }
    }

    /* --- listeners ---------------------------------------------------------------------- */

    m.on("popupopen", function (e) {
      var source = e.popup._source;
      openId = source && source.gsId !== undefined ? source.gsId : null;
      write();
    });
    m.on("popupclose", function () {
      openId = null;
      write();
    });
    m.on("dragstart zoomstart", function () {
      moved = true;
    });
    m.on("moveend", function () {
      if (current === null) write();
    });
    if (timeline()) timeline().element.addEventListener("gs-range", function () {
      if (current === null) write();
    });
    if (panel) {
      m.getContainer().addEventListener("keydown", function (e) {
        if (current === null || e.target !== m.getContainer()) return;
        if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
        e.preventDefault();
        e.stopPropagation(); // the arrows step the chapters instead of panning
        showChapter(Math.max(0, Math.min(chapters.length - 1, current + (e.key === "ArrowRight" ? 1 : -1))));
      }, true);
    }
    window.addEventListener("hashchange", function () {
      if (location.hash.replace(/^#/, "") !== written) apply(location.hash);
    });
    window.addEventListener("message", function (event) {
      if (window.parent === window || event.source !== window.parent) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.type !== "geo-story:goto") return;
      var keys = ["chapter", "event", "time", "view"].filter(function (k) { return k in data; });
      if (keys.length !== 1) return warn("a goto message names exactly one of chapter, event, time, view");
      var key = keys[0], value = data[key];
      if (key === "chapter" && typeof value === "number") goChapter(value);
      else if (key === "event" && typeof value === "string") goEvent(value);
      else if (key === "time" && typeof value === "string") goTime(value);
      else if (key === "view" && Array.isArray(value)) goView(value);
      else warn("malformed goto message");
    });

    if (location.hash.length > 1) apply(location.hash);
    else if (panel) {
      panel.box.classList.add("gs-exploring");
      panel.explore.textContent = "Start the story (" + chapters.length + " chapters)";
    }
    return { goChapter: goChapter, goEvent: goEvent, goTime: goTime, goView: goView };
  };
})();
