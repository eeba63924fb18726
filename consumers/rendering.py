"""Render each pushed fragment once per process, not once per connected client.

Keys are (what, reference, version): a version is immutable, so a cached fragment for it
is always right. Every consumer in the process shares the cache.
"""

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string

_cache: OrderedDict[tuple[str, str, int], str] = OrderedDict()
CACHE_SIZE = 4096


def _remember(key: tuple[str, str, int], make: Callable[[], str]) -> str:
    text = _cache.get(key)
    if text is None:
        text = make()
        _cache[key] = text
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return text


def payment_json(snapshot: dict[str, Any]) -> str:
    key = ("json", snapshot["reference"], snapshot["version"])
    return _remember(key, lambda: json.dumps({"type": "payment", "payment": snapshot}))


def fragment(template: str, snapshot: dict[str, Any], context: Callable[[dict], dict]) -> str:
    key = (template, snapshot["reference"], snapshot["version"])
    return _remember(key, lambda: render_to_string(template, context(snapshot)))
