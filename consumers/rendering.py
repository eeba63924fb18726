"""Render each pushed fragment once per process, not once per connected client.

Keys are (what, reference, version): a version is immutable, so a cached fragment for it
is always right. Every consumer in the process shares the cache.

The cache is bounded by memory, not by count: at most `CACHE_BYTES` of text (the size of
the str objects), least recently used out first; a single fragment larger than
`ENTRY_MAX_BYTES` is rendered and sent but never cached, so one big payment cannot evict
everything else.
"""

import json
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string

from payments.selectors import public_snapshot

CACHE_BYTES = 16 * 1024 * 1024
ENTRY_MAX_BYTES = CACHE_BYTES // 16

_cache: OrderedDict[tuple[str, str, Any], str] = OrderedDict()
_size = 0


def clear() -> None:
    global _size
    _cache.clear()
    _size = 0


def cached_bytes() -> int:
    return _size


def _remember(key: tuple[str, str, Any], make: Callable[[], str], keep: bool = True) -> str:
    """`keep=False`: a text for one reader (a page's own snapshot on connect): used if cached, not kept."""
    global _size
    text = _cache.get(key)
    if text is not None:
        _cache.move_to_end(key)
        return text
    text = make()
    size = sys.getsizeof(text)
    if size > ENTRY_MAX_BYTES or not keep:
        return text
    _cache[key] = text
    _size += size
    while _size > CACHE_BYTES:
        _, evicted = _cache.popitem(last=False)
        _size -= sys.getsizeof(evicted)
    return text


def payment_json(snapshot: dict[str, Any], *, public: bool = False, keep: bool = True) -> str:
    """`public`: for a reader who is not staff, the phone number masked (selectors.public_snapshot)."""
    if public:
        key = ("json-public", snapshot["reference"], snapshot["version"])
        return _remember(key, lambda: json.dumps({"type": "payment", "payment": public_snapshot(snapshot)}), keep)
    key = ("json", snapshot["reference"], snapshot["version"])
    return _remember(key, lambda: json.dumps({"type": "payment", "payment": snapshot}), keep)


def fragment(template: str, snapshot: dict[str, Any], context: Callable[[dict], dict], *, variant: str = "",
             keep: bool = True) -> str:
    """`variant`: another rendering of the same template (the projector's masked row)."""
    key = (template + variant, snapshot["reference"], snapshot["version"])
    return _remember(key, lambda: render_to_string(template, context(snapshot)), keep)


def once(template: str, name: str, state: Any, context: Callable[[], dict]) -> str:
    """`template` rendered once per process per (`name`, `state`): a frame around a cached
    row, or one that depends on its name alone (a row removed)."""
    return _remember((template, name, state), lambda: render_to_string(template, context()))


def callback_state(snapshot: dict[str, Any]) -> str:
    """What a callback row shows changes only with these."""
    return f"{snapshot['updated_at']}:{snapshot['status']}:{snapshot['attempts']}"


def callback_row(snapshot: dict[str, Any], render: Callable[..., str], *, oob: bool) -> str:
    """A callbacks-panel row, rendered once per process per state however many dashboards get it."""
    state = f"{callback_state(snapshot)}:{oob}"
    return _remember(("callback", str(snapshot["id"]), state), lambda: render(snapshot, oob=oob))
