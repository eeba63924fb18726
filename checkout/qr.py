"""QR codes as inline SVG, rendered on the server (segno): no JavaScript, no image requests."""

from functools import lru_cache

import segno
from django.utils.safestring import SafeString, mark_safe


@lru_cache(maxsize=1024)
def qr_svg(url: str, *, label: str = "QR code") -> SafeString:
    """An SVG that scales with its box (sized by CSS); a 4-module quiet zone, as scanners need."""
    code = segno.make(url, error="m", micro=False)
    svg = code.svg_inline(
        scale=1, border=4, dark="#111827", light="#ffffff", omitsize=True, svgclass="qr", title=label
    )
    return mark_safe(svg)

