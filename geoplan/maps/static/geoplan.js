/* geoplan map runtime: basemap panes, labels without collisions, pickers, search, panels.
 * Inlined into every geoplan HTML map after Leaflet; needs nothing else and fetches nothing.
 * Every text that comes from data reaches the page through textContent, or as HTML that
 * geoplan escaped in Python (popups, tooltips, legend). */
(function () {
  "use strict";
  var G = window.geoplan = {layers: {}, names: {}, order: [], front: [], labels: [], zoomPanes: {},
                            cfg: {}, notes: []};

  function el(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function stop(div) {
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
  }
  G.el = el;

  /* ---------------------------------------------------------------- set-up */
  G.init = function (map, cfg) {
    G.map = map;
    G.cfg = cfg;
    map.attributionControl.setPrefix(cfg.prefix || false);
    var panes = [["gpCountry", 205], ["gpDistricts", 215], ["gpRegions", 225], ["gpRoadsMinor", 390],
                 ["gpSurface", 350], ["gpLabels", 560], ["gpArrows", 590]];
    panes.forEach(function (p) {
      var pane = map.createPane(p[0]);
      pane.style.zIndex = p[1];
      if (p[0] !== "gpArrows") { pane.style.pointerEvents = "none"; }
    });
    G.labelPane = map.getPane("gpLabels");
    G.zoomPane("gpDistricts", cfg.districtZoom || 7);
    G.zoomPane("gpRoadsMinor", cfg.minorRoadZoom || 7);
    titleBar(map, cfg);
    L.control.zoom({position: "topleft"}).addTo(map);
    L.control.scale({imperial: false, maxWidth: 160, position: "bottomleft"}).addTo(map);
    if (cfg.notes) { cfg.notes.forEach(G.note); }
    map.on("zoomend", G.updateZoomPanes);
    map.on("overlayadd", function () {
      G.front.forEach(function (key) { if (map.hasLayer(G.layers[key])) { G.layers[key].bringToFront(); } });
    });
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll("details.gp-legend, details.gp-catch").forEach(function (d) { d.open = true; });
    });
  };

  G.zoomPane = function (name, minZoom) { G.zoomPanes[name] = minZoom; };
  G.updateZoomPanes = function () {
    var z = G.map.getZoom();
    Object.keys(G.zoomPanes).forEach(function (name) {
      G.map.getPane(name).style.display = z >= G.zoomPanes[name] ? "" : "none";
    });
  };

  G.note = function (text) {
    if (G.notes.indexOf(text) >= 0) { return; }
    G.notes.push(text);
    if (G.noteBox) { el("div", "gp-note-item", G.noteBox, text); G.noteBox.style.display = ""; }
  };

  function titleBar(map, cfg) {
    var ctl = L.control({position: "topleft"});
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "gp-title leaflet-control");
      stop(div);
      el("h1", "", div, cfg.title || "");
      if (cfg.scenario) {
        var s = el("div", "gp-scn", div);
        el("span", "gp-scn-label", s, "Scenario ");
        el("b", "", s, cfg.scenario);
        if (cfg.runDate) { el("span", "gp-date", s, " · run " + cfg.runDate); }
        if (cfg.description) { el("div", "gp-desc", div, cfg.description); }
      }
      G.noteBox = el("div", "gp-notes", div);
      G.noteBox.setAttribute("role", "status");
      G.noteBox.style.display = "none";
      var bar = el("div", "gp-buttons", div);
      if (cfg.methods) {
        var b = el("button", "gp-btn", bar, "Methods & sources");
        b.type = "button";
        b.addEventListener("click", function () { G.openMethods(); });
      }
      if (cfg.profiles) {
        var a = el("a", "gp-btn", bar, "Town profiles");
        a.href = cfg.profiles;
        a.target = "_blank";
        a.rel = "noopener";
      }
      var fs = el("button", "gp-btn gp-fs", bar, "Fullscreen");
      fs.type = "button";
      fs.addEventListener("click", G.toggleFullscreen);
      var pr = el("button", "gp-btn gp-print", bar, "Print");
      pr.type = "button";
      pr.addEventListener("click", function () { window.print(); });
      return div;
    };
    ctl.addTo(map);
  }

  G.toggleFullscreen = function () {
    var root = document.documentElement;
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (root.requestFullscreen) {
      root.requestFullscreen().catch(function () { G.note("Fullscreen is not allowed here."); });
    }
  };

  G.openMethods = function () {
    var box = document.getElementById("gp-methods");
    if (!box) {
      box = el("div", "gp-dialog", document.body);
      box.id = "gp-methods";
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-modal", "true");
      box.setAttribute("aria-label", "Methods and sources");
      var inner = el("div", "gp-dialog-inner", box);
      var close = el("button", "gp-btn gp-close", inner, "Close");
      close.type = "button";
      close.addEventListener("click", function () { box.style.display = "none"; });
      var body = el("div", "gp-dialog-body", inner);
      body.innerHTML = G.cfg.methods;  /* built and escaped by geoplan */
      box.addEventListener("keydown", function (e) { if (e.key === "Escape") { box.style.display = "none"; } });
    }
    box.style.display = "flex";
    box.querySelector(".gp-close").focus();
  };

  /* ---------------------------------------------------------------- data layers */
  G.layer = function (key, features, opts) {
    var pane = opts.pane || "overlayPane";
    var layer = L.geoJSON(null, {
      attribution: opts.attribution || null,
      interactive: opts.interactive,
      pane: pane,
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, L.extend({interactive: opts.interactive, pane: pane}, f.properties.style));
      },
      style: function (f) { return f.properties.style; },
      onEachFeature: function (f, l) {
        if (f.properties.popup) { l.bindPopup(f.properties.popup, {maxWidth: 380, minWidth: 220}); }
        if (f.properties.tooltip) {
          l.bindTooltip(f.properties.tooltip, {sticky: f.geometry.type !== "Point", direction: "top"});
        }
      }
    });
    layer.addData({type: "FeatureCollection", features: features});
    layer.gpFeatures = features;
    G.layers[key] = layer;
    if (opts.name) { G.names[key] = opts.name; G.order.push(key); }
    if (opts.front) { G.front.push(key); }
    if (opts.show !== false) { layer.addTo(G.map); }
    if (opts.arrows) { G.arrows(key, features); }
    return layer;
  };

  G.image = function (key, url, bounds, opts) {
    var layer = L.imageOverlay(url, bounds, {opacity: opts.opacity, pane: "gpSurface", interactive: false,
                                             attribution: opts.attribution || null});
    G.layers[key] = layer;
    if (opts.name) { G.names[key] = opts.name; G.order.push(key); }
    if (opts.show !== false) { layer.addTo(G.map); }
    return layer;
  };

  /* Arrowheads: the angle is fixed in screen space (Web Mercator is conformal), the tip stops
   * at the edge of the destination's circle. */
  G.arrows = function (key, features) {
    var group = L.layerGroup();
    features.forEach(function (f) {
      var a = f.properties.arrow;
      if (!a) { return; }
      var c = f.geometry.coordinates, end = c[c.length - 1];
      /* unrotated the flow points right (+x); the box is centred on the destination, the tip
       * stops 'gap' px before it (the edge of the destination's circle) */
      var s = a.size, gap = a.gap, c = s + gap, S = 2 * c;
      var svg = '<svg xmlns="http://www.w3.org/2000/svg" width="' + S + '" height="' + S +
        '" style="transform:rotate(' + a.angle + 'deg)"><polygon points="' + s + ',' + c + ' 0,' +
        (c - 0.55 * s) + ' 0,' + (c + 0.55 * s) + '" fill="' + a.colour +
        '" stroke="#fff" stroke-width="1" stroke-linejoin="round"/></svg>';
      var icon = L.divIcon({className: "gp-arrow", html: svg, iconSize: [S, S], iconAnchor: [c, c]});
      L.marker([end[1], end[0]], {icon: icon, interactive: false, keyboard: false, pane: "gpArrows"})
        .addTo(group);
    });
    G.layers[key + "Arrows"] = group;
    G.map.on("overlayadd overlayremove", function () {
      if (G.map.hasLayer(G.layers[key])) { group.addTo(G.map); } else { group.remove(); }
    });
    group.addTo(G.map);
  };

  /* ---------------------------------------------------------------- labels */
  var measure = document.createElement("canvas").getContext("2d");
  var widths = {};
  var FONTS = {
    centre: ["700 13px", 16], town: ["600 12px", 15], settle1: ["600 12px", 15], settle2: ["400 11px", 14],
    settle3: ["400 10px", 13], region: ["italic 400 11px", 14], district: ["italic 400 10px", 13]
  };
  var FAMILY = ' "DejaVu Sans", "Segoe UI", Arial, Helvetica, sans-serif';
  function textWidth(text, cls) {
    var k = cls + "|" + text;
    if (!(k in widths)) {
      measure.font = FONTS[cls][0] + FAMILY;
      widths[k] = Math.ceil(measure.measureText(text).width) + 4;
    }
    return widths[k];
  }

  /* cands: [text, lon, lat, minZoom, cls, radiusPx, dot] in priority order. */
  G.setLabels = function (cands) {
    G.labels = cands;
    G.labelLayer = L.layerGroup();
    G.labelLayer.onAdd = function () { G.labelsOn = true; G.placeLabels(); return this; };
    G.labelLayer.onRemove = function () { G.labelsOn = false; G.placeLabels(); return this; };
    G.names.labelLayer = "Place names";
    G.layers.labelLayer = G.labelLayer;
    G.order.push("labelLayer");
    G.labelsOn = true;
    G.labelLayer.addTo(G.map);
    G.map.on("zoomstart", function () { G.labelPane.style.visibility = "hidden"; });
    G.map.on("moveend zoomend resize overlayadd overlayremove", function () { G.placeLabels(); });
  };

  G.placeLabels = function () {
    var map = G.map, pane = G.labelPane;
    pane.textContent = "";
    pane.style.visibility = "";
    if (!G.labelsOn) { return; }
    var z = map.getZoom(), size = map.getSize(), cell = 48, grid = {}, placed = [];
    function keys(b) {
      var out = [];
      for (var gx = Math.floor(b[0] / cell); gx <= Math.floor(b[2] / cell); gx++) {
        for (var gy = Math.floor(b[1] / cell); gy <= Math.floor(b[3] / cell); gy++) { out.push(gx + ":" + gy); }
      }
      return out;
    }
    function free(b) {
      if (b[0] < 2 || b[1] < 2 || b[2] > size.x - 2 || b[3] > size.y - 2) { return false; }
      var ks = keys(b);
      for (var i = 0; i < ks.length; i++) {
        var list = grid[ks[i]];
        if (!list) { continue; }
        for (var j = 0; j < list.length; j++) {
          var o = list[j];
          if (b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1]) { return false; }
        }
      }
      return true;
    }
    function take(b) {
      keys(b).forEach(function (k) { (grid[k] = grid[k] || []).push(b); });
      placed.push(b);
    }
    /* the controls (title, search, legend ...) hide what lies under them: no label there */
    var frame = map.getContainer().getBoundingClientRect();
    map.getContainer().querySelectorAll(".leaflet-control").forEach(function (c) {
      var r = c.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) {
        take([r.left - frame.left, r.top - frame.top, r.right - frame.left, r.bottom - frame.top]);
      }
    });
    /* the symbols themselves are obstacles */
    G.front.forEach(function (key) {
      var layer = G.layers[key];
      if (!layer || !map.hasLayer(layer)) { return; }
      layer.eachLayer(function (l) {
        if (!l.getLatLng) { return; }
        var p = map.latLngToContainerPoint(l.getLatLng()), r = l.getRadius ? l.getRadius() : 6;
        take([p.x - r, p.y - r, p.x + r, p.y + r]);
      });
    });
    var frag = document.createDocumentFragment();
    var shown = 0;
    for (var i = 0; i < G.labels.length; i++) {
      var c = G.labels[i];
      if (c[3] > z || (c[7] !== undefined && c[7] !== null && z > c[7])) { continue; }
      if (c[4] === "town" && G.layers.towns && !map.hasLayer(G.layers.towns)) { continue; }
      if (c[4] === "centre" && G.layers.centres && !map.hasLayer(G.layers.centres)) { continue; }
      var p = map.latLngToContainerPoint([c[2], c[1]]);
      if (p.x < -200 || p.y < -50 || p.x > size.x + 200 || p.y > size.y + 50) { continue; }
      var w = textWidth(c[0], c[4]), h = FONTS[c[4]][1], r = c[5] + 2, box = null;
      var options = c[4] === "region" || c[4] === "district" ? [[p.x - w / 2, p.y - h / 2]] :
        [[p.x + r, p.y - h / 2], [p.x - r - w, p.y - h / 2], [p.x - w / 2, p.y - r - h], [p.x - w / 2, p.y + r],
         [p.x + r * 0.7, p.y - r * 0.7 - h], [p.x - r * 0.7 - w, p.y - r * 0.7 - h]];
      var dotBox = c[6] ? [p.x - 2.5, p.y - 2.5, p.x + 2.5, p.y + 2.5] : null;
      if (dotBox && !free(dotBox)) { continue; }
      for (var k = 0; k < options.length; k++) {
        var b = [options[k][0], options[k][1], options[k][0] + w, options[k][1] + h];
        if (free(b)) { box = b; break; }
      }
      if (!box) { continue; }
      take(box);
      var lp = map.containerPointToLayerPoint([box[0], box[1]]);
      var div = el("div", "gp-lbl gp-lbl-" + c[4], frag, c[0]);
      div.style.transform = "translate(" + Math.round(lp.x) + "px," + Math.round(lp.y) + "px)";
      if (dotBox) {
        take(dotBox);
        var dp = map.containerPointToLayerPoint([p.x - 2.5, p.y - 2.5]);
        var dot = el("div", "gp-sdot gp-sdot-" + c[4], frag);
        dot.style.transform = "translate(" + Math.round(dp.x) + "px," + Math.round(dp.y) + "px)";
      }
      shown++;
    }
    pane.appendChild(frag);
    G.labelCount = shown;
  };

  /* ---------------------------------------------------------------- catchment picker */
  G.catchmentPicker = function (keys, bands, centres, defaultBand) {
    keys = [].concat(keys).filter(function (k) { return G.layers[k]; });
    if (!keys.length) { return; }
    var state = {band: String(defaultBand), centre: ""};
    function redraw() {
      var fill = state.band !== "all" || state.centre !== "";
      keys.forEach(function (key) {
        var layer = G.layers[key];
        layer.clearLayers();
        var chosen = layer.gpFeatures.filter(function (f) {
          var p = f.properties;
          return (state.band === "all" || String(p.band) === state.band) &&
            (state.centre === "" || p.centre === state.centre);
        });
        chosen.forEach(function (f) {
          var p = f.properties;
          if (p.fill0 === undefined) { p.fill0 = p.style.fillOpacity || 0; }
          p.style = L.extend({}, p.style, {fillOpacity: fill ? p.fill0 : 0});
        });
        layer.addData({type: "FeatureCollection", features: chosen});
      });
      G.front.forEach(function (k) { if (G.map.hasLayer(G.layers[k])) { G.layers[k].bringToFront(); } });
    }
    var ctl = L.control({position: "topright"});
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "gp-picker leaflet-control");
      stop(div);
      el("div", "gp-picker-title", div, "Catchments");
      var lb = el("label", "", div, "Band ");
      var sb = el("select", "", lb);
      sb.setAttribute("aria-label", "Catchment band");
      bands.forEach(function (b) { var o = el("option", "", sb, "≤ " + b + " min"); o.value = String(b); });
      var oa = el("option", "", sb, "all bands (outlines)");
      oa.value = "all";
      sb.value = state.band;
      var lc = el("label", "", div, "Centre ");
      var sc = el("select", "", lc);
      sc.setAttribute("aria-label", "Growth centre");
      var o0 = el("option", "", sc, "all centres");
      o0.value = "";
      centres.forEach(function (c) { var o = el("option", "", sc, c[1]); o.value = c[0]; });
      sb.addEventListener("change", function () { state.band = sb.value; redraw(); });
      sc.addEventListener("change", function () { state.centre = sc.value; redraw(); });
      G.pickBand = function (b, c) { sb.value = String(b); sc.value = c || ""; state.band = sb.value;
                                     state.centre = sc.value; redraw(); };
      return div;
    };
    ctl.addTo(G.map);
    redraw();
  };

  /* ---------------------------------------------------------------- surface value under the cursor */
  G.surfaceProbe = function (key, spec) {
    var overlay = G.layers[key];
    var img = new Image(), ctx = null, w = 0, h = 0, data = null;
    img.onload = function () {
      var cv = document.createElement("canvas");
      w = cv.width = img.naturalWidth; h = cv.height = img.naturalHeight;
      ctx = cv.getContext("2d", {willReadFrequently: true});
      ctx.drawImage(img, 0, 0);
      data = ctx.getImageData(0, 0, w, h).data;
    };
    img.src = spec.values;
    var nw = L.Projection.SphericalMercator.project(L.latLng(spec.bounds[1][0], spec.bounds[0][1]));
    var se = L.Projection.SphericalMercator.project(L.latLng(spec.bounds[0][0], spec.bounds[1][1]));
    var ctl = L.control({position: "bottomleft"});
    var box;
    ctl.onAdd = function () {
      box = L.DomUtil.create("div", "gp-probe leaflet-control");
      box.setAttribute("aria-live", "polite");
      box.style.display = "none";
      return box;
    };
    ctl.addTo(G.map);
    G.map.on("mousemove", function (e) {
      if (!data || !G.map.hasLayer(overlay)) { box.style.display = "none"; return; }
      var m = L.Projection.SphericalMercator.project(e.latlng);
      var col = Math.floor((m.x - nw.x) / (se.x - nw.x) * w), row = Math.floor((nw.y - m.y) / (nw.y - se.y) * h);
      if (col < 0 || row < 0 || col >= w || row >= h) { box.style.display = "none"; return; }
      var i = 4 * (row * w + col);
      if (data[i + 3] < 128) { box.style.display = "none"; return; }
      var minutes = (data[i] * 256 + data[i + 1]) * spec.step;
      box.textContent = "Travel time here: " + G.fmtMinutes(minutes);
      box.style.display = "";
    });
    G.map.on("mouseout", function () { box.style.display = "none"; });
  };

  G.fmtMinutes = function (m) {
    m = Math.round(m);
    return m < 60 ? m + " min" : m + " min (" + Math.floor(m / 60) + " h " + ("0" + (m % 60)).slice(-2) + ")";
  };

  /* ---------------------------------------------------------------- search and town list */
  G.placeList = function (places) {
    var ctl = L.control({position: "topleft"});
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "gp-search leaflet-control");
      stop(div);
      var input = el("input", "", div);
      input.type = "search";
      input.placeholder = "Find a place (en / ru / kk)";
      input.setAttribute("aria-label", "Find a place by name in English, Russian or Kazakh");
      var det = el("details", "gp-list", div);
      det.addEventListener("toggle", function () { if (G.isReady) { G.placeLabels(); } });
      var sum = el("summary", "", det, "Towns and centres (" + places.filter(function (p) {
        return p.list; }).length + ")");
      sum.setAttribute("aria-label", "List of towns and centres");
      var ul = el("ul", "", det);
      ul.setAttribute("role", "list");
      var results = el("ul", "gp-results", div);
      results.setAttribute("role", "list");
      function item(p, parent) {
        var li = el("li", "", parent);
        var b = el("button", "gp-place", li);
        b.type = "button";
        if (p.colour) { var sw = el("span", "gp-sw-dot", b); sw.style.background = p.colour; }
        el("span", "", b, p.name);
        if (p.sub) { el("span", "gp-place-sub", b, p.sub); }
        b.addEventListener("click", function () { G.goTo(p); });
        return b;
      }
      places.forEach(function (p) { if (p.list) { item(p, ul); } });
      function norm(s) { return (s || "").toLowerCase().replace(/ё/g, "е"); }
      /* settlements are searched through their labels: [text, lon, lat, ..., other names] */
      var pool = places.slice();
      G.labels.forEach(function (c, i) {
        if (c[4].indexOf("settle") === 0) {
          pool.push({name: c[0], search: c[0] + " " + (c[8] || ""), lon: c[1], lat: c[2], rank: -i,
                     sub: "settlement", zoom: Math.max(10, c[3])});
        }
      });
      input.addEventListener("input", function () {
        results.textContent = "";
        var q = norm(input.value.trim());
        if (!q) { return; }
        var hits = pool.filter(function (p) { return norm(p.search).indexOf(q) >= 0; });
        hits.sort(function (a, b) {
          var sa = norm(a.search).indexOf(q) === 0 ? 0 : 1, sb = norm(b.search).indexOf(q) === 0 ? 0 : 1;
          return sa - sb || (b.rank || 0) - (a.rank || 0);
        });
        hits.slice(0, 12).forEach(function (p) { item(p, results); });
        if (!hits.length) { el("li", "gp-none", results, "No place matches."); }
      });
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          var first = results.querySelector("button");
          if (first) { first.click(); }
        }
      });
      return div;
    };
    ctl.addTo(G.map);
  };

  G.goTo = function (p) {
    var zoom = Math.max(G.map.getZoom(), p.zoom || 9);
    G.map.setView([p.lat, p.lon], zoom, {animate: false});
    var layer = p.layer && G.layers[p.layer];
    if (layer) {
      layer.eachLayer(function (l) {
        if (l.feature && l.feature.properties.id === p.id && l.openPopup) { l.openPopup(); }
      });
    }
  };

  /* ---------------------------------------------------------------- legend, layers, tiles */
  G.legend = function (html) {
    var ctl = L.control({position: "bottomright"});
    ctl.onAdd = function () {
      var d = L.DomUtil.create("details", "gp-legend leaflet-control");
      stop(d);
      d.open = window.innerWidth > 640;
      var s = el("summary", "", d, "Legend");
      s.setAttribute("aria-label", "Legend (show or hide)");
      var body = el("div", "gp-legend-body", d);
      body.innerHTML = html;  /* built and escaped by geoplan */
      d.addEventListener("toggle", function () { if (G.isReady) { G.placeLabels(); } });
      return d;
    };
    ctl.addTo(G.map);
  };

  /* the initial view: the whole extent, clear of the title bar (top) and the open legend (right);
     a legend too wide for the window starts closed (the user opens it) */
  G.fit = function (bounds) {
    var box = G.map.getContainer().getBoundingClientRect();
    var legend = document.querySelector("details.gp-legend");
    var title = document.querySelector(".gp-title");
    var top = title ? title.getBoundingClientRect().bottom - box.top + 8 : 10;
    var right = 10;
    if (legend && legend.open) {
      var w = legend.getBoundingClientRect().width + 20;
      if (box.width - w < 0.6 * box.width) { legend.open = false; } else { right = w; }
    }
    G.map.fitBounds(bounds, {paddingTopLeft: [10, top], paddingBottomRight: [right, 30], animate: false});
  };

  G.tiles = function (url, attribution) {
    var t = L.tileLayer(url, {attribution: attribution, maxZoom: 19, crossOrigin: false});
    var failed = false;
    t.on("tileerror", function () {
      if (failed) { return; }
      failed = true;
      G.map.removeLayer(t);
      G.note("Web map tiles could not be loaded (offline?): switched off; the map works without them.");
    });
    G.layers.tiles = t;
    return t;
  };

  G.ready = function () {
    var overlays = {};
    G.order.forEach(function (key) { overlays[G.names[key]] = G.layers[key]; });
    var base = {};
    if (G.layers.tiles) { overlays["Web map tiles (online)"] = G.layers.tiles; }
    G.layerControl = L.control.layers(base, overlays, {collapsed: true, position: "topright"})
      .addTo(G.map);
    G.front.forEach(function (k) { if (G.map.hasLayer(G.layers[k])) { G.layers[k].bringToFront(); } });
    G.updateZoomPanes();
    G.placeLabels();
    G.map.on("popupopen", function (e) {
      var a = e.popup.getElement().querySelector("a, button");
      if (a) { a.focus({preventScroll: true}); }
    });
    G.isReady = true;
  };
})();
