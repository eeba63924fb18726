"""Django's Redis cache with one client per process, and a one-round-trip window counter.

Under ASGI each request runs in a context of its own, and `django.core.cache.caches` gives
each context a new backend instance: the stock RedisCache then built a new connection pool
per request, so every request that counted a rate limit opened a new Redis connection
(and redis-py read its own package metadata for each one): 16 % of a MoMo status call's
CPU in a profile (docs/performance.md). Here every instance of one configuration shares
one client and its pool (redis-py's pool is thread-safe and fork-aware).
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

    def window_count(self, key: str, timeout: int) -> int:
        """Count one hit on a fixed window's counter that lives `timeout` seconds; the count.

        One round trip: SET NX (with its expiry) and INCR in one MULTI, where Django's
        add + incr cost three (its incr checks EXISTS first)."""
        key = self.make_and_validate_key(key)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=True)
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        return int(pipe.execute()[1])
