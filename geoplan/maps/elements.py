"""folium elements that need nothing but Leaflet: page set-up, data layers, legend, CSS."""

from __future__ import annotations

import json
from typing import Any

import folium
from branca.element import MacroElement
from folium.template import Template


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element (no '</script>', no '<!--', no U+2028)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class _Setup(MacroElement):
    """Page set-up: CSS, the ``window.geoplan`` registry, panes, a metric scale bar, ordering."""

    _template = Template("""
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            window.geoplan = {map: {{ this._parent.get_name() }}, layers: {}, front: []};
            {{ this._parent.get_name() }}.createPane("gpSurface").style.zIndex = 350;
            L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
            // A layer switched back on is drawn last; keep the points above the areas and lines.
            {{ this._parent.get_name() }}.on("overlayadd", function () {
                window.geoplan.front.forEach(function (key) { window.geoplan.layers[key].bringToFront(); });
            });
            function geoplanLayer(features, opts) {
                var layer = L.geoJSON(null, {
                    attribution: opts.attribution || null,
                    interactive: opts.interactive,
                    pointToLayer: function (f, latlng) {
                        return L.circleMarker(latlng, L.extend({interactive: opts.interactive}, f.properties.style));
                    },
                    style: function (f) { return f.properties.style; },
                    onEachFeature: function (f, l) {
                        if (f.properties.popup) { l.bindPopup(f.properties.popup, {maxWidth: 360}); }
                        if (f.properties.tooltip) {
                            var sticky = f.geometry.type !== "Point";
                            l.bindTooltip(f.properties.tooltip, {sticky: sticky, direction: "top"});
                        }
                    }
                });
                layer.addData({type: "FeatureCollection", features: features});
                return layer;
            }
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "GeoplanSetup"
        self.css = _CSS


class _DataLayer(folium.map.Layer):
    """A GeoJSON layer drawn by Leaflet alone, with per-feature style, popup and tooltip.

    ``features`` are GeoJSON features whose ``properties`` hold ``style`` (Leaflet path
    options), ``popup`` and ``tooltip`` (HTML, already escaped) and an optional ``id``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = geoplanLayer({{ this.data }}, {{ this.opts }});
            window.geoplan.layers[{{ this.key|tojson }}] = {{ this.get_name() }};
            {% if this.front %}window.geoplan.front.push({{ this.key|tojson }});{% endif %}
        {% endmacro %}
    """)

    def __init__(self, key: str, name: str, features: list[dict[str, Any]], *, front: bool = False,
                 interactive: bool = True, attribution: str | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoplanLayer"
        self.key = key
        self.front = front
        self.data = _script_json(features)
        self.opts = _script_json({"interactive": interactive, "attribution": attribution})


class _Legend(MacroElement):
    """A plain HTML/CSS legend in a Leaflet control (no external scripts)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: "bottomright"});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create("div", "gp-legend leaflet-control");
                div.innerHTML = {{ this.content }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, content_html: str) -> None:
        super().__init__()
        self._name = "GeoplanLegend"
        self.content = _script_json(content_html)


_CSS = """
.gp-legend{background:rgba(255,255,255,.93);padding:8px 10px;font:12px/1.4 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:#222;border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,.35);max-width:270px}
.gp-legend h4{margin:0 0 4px;font-size:13px}.gp-legend h5{margin:6px 0 2px;font-size:12px}
.gp-row{display:flex;align-items:center;gap:6px;margin:1px 0}
.gp-dot{display:inline-block;width:12px;height:12px;border-radius:50%;border:1px solid #1a1a1a;flex:none}
.gp-ring{display:inline-block;border-radius:50%;border:2px solid #333;background:rgba(255,255,255,.6);flex:none}
.gp-sw{display:inline-block;width:18px;height:12px;border:1px solid #555;flex:none}
.gp-line{display:inline-block;width:28px;flex:none}
.gp-ramp{height:10px;border:1px solid #555;margin:2px 0}.gp-ends{display:flex;justify-content:space-between}
.gp-note{color:#555;font-size:11px;margin-top:4px}
.gp-popup h4{margin:0 0 2px;font-size:14px}.gp-popup .gp-sub{color:#555;margin-bottom:4px}
.gp-popup table{border-collapse:collapse}.gp-popup th{text-align:left;padding:1px 8px 1px 0;font-weight:600;
vertical-align:top;white-space:nowrap}.gp-popup td{padding:1px 0}.gp-popup p{margin:6px 0 0}
""".strip()



