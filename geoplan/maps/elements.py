"""folium elements of a geoplan map: page set-up with the inlined assets, data layers, calls.

Every element renders script text built from :func:`_script_json` (JSON that cannot close a
``<script>`` element) and constant code, so no text from data can reach the page as markup or
script except through HTML that :mod:`geoplan.maps.popups` escaped.
"""

from __future__ import annotations

import json
from typing import Any

from branca.element import Element, MacroElement
from folium.template import Template

from geoplan.maps.assets import geoplan_css, geoplan_js, leaflet_css, leaflet_js


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element (no '</script>', no '<!--', no U+2028)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _style_text(css: str) -> str:
    """CSS text that cannot close its <style> element."""
    return css.replace("</", "<\\/")


class _Assets(Element):
    """Leaflet and geoplan's script and style, inlined (default) or linked from ``assets_url``."""

    def __init__(self, assets_url: str | None) -> None:
        super().__init__()
        self._name = "GeoplanAssets"
        self.assets_url = assets_url

    def render(self, **kwargs: Any) -> str:
        """Return the ``<head>`` markup (called by branca)."""
        if self.assets_url:
            base = self.assets_url.rstrip("/")
            leaflet = (f'<link rel="stylesheet" href="{base}/leaflet.css">\n'
                       f'<script src="{base}/leaflet.js"></script>\n')
        else:
            leaflet = (f"<style>{_style_text(leaflet_css())}</style>\n"
                       f"<script>{leaflet_js()}</script>\n")
        return leaflet + f"<style>{_style_text(geoplan_css())}</style>\n<script>{geoplan_js()}</script>\n"


class _Setup(MacroElement):
    """``geoplan.init(map, cfg)``: panes, title bar, methods panel, zoom and scale controls."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            geoplan.init({{ this._parent.get_name() }}, {{ this.cfg }});
        {% endmacro %}
    """)

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GeoplanSetup"
        self.cfg = _script_json(cfg)


class _DataLayer(MacroElement):
    """A GeoJSON layer drawn by Leaflet alone, with per-feature style, popup and tooltip.

    ``features`` are GeoJSON features whose ``properties`` hold ``style`` (Leaflet path
    options), ``popup`` and ``tooltip`` (HTML, already escaped) and an optional ``id``.
    ``name`` (or ``None``: not in the layer control), ``pane``, ``show``, ``front`` (kept above
    the areas and lines), ``interactive`` and ``arrows`` (flow arrowheads) are layer options.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            geoplan.layer({{ this.key_json }}, {{ this.data }}, {{ this.opts }});
        {% endmacro %}
    """)

    def __init__(self, key: str, name: str | None, features: list[dict[str, Any]], *, front: bool = False,
                 interactive: bool = True, attribution: str | None = None, show: bool = True,
                 pane: str | None = None, arrows: bool = False) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GeoplanLayer"
        self.key = key
        self.key_json = _script_json(key)
        self.data = _script_json(features)
        self.opts = _script_json({"name": name, "interactive": interactive, "attribution": attribution,
                                  "show": show, "front": front, "pane": pane, "arrows": arrows})


class _Call(MacroElement):
    """One call of the map runtime, ``geoplan.<function>(args...)``, with JSON arguments."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this.code }}
        {% endmacro %}
    """)

    def __init__(self, function: str, *args: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GeoplanCall"
        if not function.replace(".", "").isidentifier():
            raise ValueError(f"not a function name: {function!r}")
        self.code = f"geoplan.{function}({', '.join(_script_json(a) for a in args)});"
