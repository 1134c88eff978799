"""Security headers for every answer, and the nonce plan for the map's inline scripts.

Content-Security-Policy: scripts only from this app or inline blocks carrying the request's
nonce (Folium writes its map as inline script, so each rendered map gets the nonce added to its
script tags; JSON data blocks are not executed and need none). Styles allow inline CSS because
Leaflet and Folium position and colour elements with style attributes. Images from the app,
data: URIs (printed maps) and the configured tile server only. No framing, no plugins, forms
post only to this app.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlparse

from flask import Flask, current_app, g

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)(?=[\s>])")


def nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def with_nonce(html: str) -> str:
    """Add this request's nonce to every inline script tag in ``html``."""
    return _INLINE_SCRIPT.sub(f'<script nonce="{nonce()}"', html)


def _tile_source(template: str | None) -> str:
    if not template:
        return ""
    parsed = urlparse(template.replace("{s}.", "*."))
    return f" {parsed.scheme}://{parsed.netloc}" if parsed.scheme and parsed.netloc else ""


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = nonce

    @app.after_request
    def headers(response):
        tiles = _tile_source(current_app.config.get("TILES"))
        policy = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce()}'; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data:{tiles}; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
