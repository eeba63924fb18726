"""Django's Redis cache with one client per process, and a one-round-trip window counter.

Under ASGI each request runs in a context of its own, and `django.core.cache.caches` gives
each context a new backend instance: the stock RedisCache then built a new connection pool
per request, so every request that counted a rate limit opened a new Redis connection
(and redis-py read its own package metadata for each one): 16 % of a MoMo status call's
CPU in a profile (docs/performance.md). Here every instance of one configuration shares
one client and its pool (redis-py's pool is thread-safe and fork-aware). Django's client
also built a new `redis.Redis` for every command (`RedisCacheClient.get_client`): 65 µs of
CPU each, a third of a rate-limit count; here each pool keeps one (it is thread-safe too).
"""

import threading
import uuid

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()

# KEYS: the window's counter (or none), the generation (payments/generation.py). ARGV: the
# counter's lifetime, the generation the caller's copies have ('' for any), a new
# generation should there be none (a fresh Redis). Counts unless the generation differs.
COUNT_AT = """
local generation = redis.call('GET', KEYS[2])
if not generation then
    generation = ARGV[3]
    redis.call('SET', KEYS[2], generation)
end
if ARGV[2] ~= '' and ARGV[2] ~= generation then
    return {-1, generation}
end
if KEYS[1] == '' then
    return {0, generation}
end
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return {redis.call('INCR', KEYS[1]), generation}
"""


class SharedRedisCacheClient(RedisCacheClient):
    """Django's client, with one `redis.Redis` per connection pool instead of one per command."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._redis_clients: dict[int, object] = {}

    def get_client(self, key=None, *, write: bool = False):
        index = self._get_connection_pool_index(write)
        client = self._redis_clients.get(index)
        if client is None:  # two threads may both build one: either will do
            client = self._redis_clients[index] = super().get_client(key, write=write)
        return client


class SharedRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
                # COUNT_AT, sent by its hash (redis-py sends the script itself after a restart).
                client.count_at_script = client.get_client(write=True).register_script(COUNT_AT)
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

    def count_at(self, key: str | None, timeout: int, generation_key: str, expected: str | None) -> tuple[int | None, str]:
        """Count one hit on a window's counter (`key`; None: count nothing) unless the
        generation is not `expected` (None: any); (the count, or None when not counted,
        and the generation). One round trip (a script Redis runs atomically)."""
        keys = [self.make_and_validate_key(key) if key else "", self.make_and_validate_key(generation_key)]
        client = self._cache.get_client(keys[1], write=True)
        count, generation = self._cache.count_at_script(keys=keys, args=[timeout, expected or "", uuid.uuid4().hex], client=client)
        return (None if count < 0 else int(count)), generation.decode(errors="replace")

    def replace_generation(self, generation_key: str) -> None:
        """A new generation (as `count_at` reads it: a plain string, not Django's pickle)."""
        key = self.make_and_validate_key(generation_key)
        self._cache.get_client(key, write=True).set(key, uuid.uuid4().hex)
