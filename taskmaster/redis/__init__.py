"""Scale-out over Redis: one event channel, one response cache and one rate-limit budget shared
by every process of a project. Optional: the embedded default needs none of it, and `redis` is
imported only when a Redis URL is configured."""

from taskmaster.redis.bus import RedisBus, channel_for, redis_bus
from taskmaster.redis.l2 import RedisL2Cache
from taskmaster.redis.link import RedisLink, RedisUnavailable, project_key, redact

__all__ = [
    "RedisBus",
    "RedisL2Cache",
    "RedisLink",
    "RedisUnavailable",
    "channel_for",
    "project_key",
    "redact",
    "redis_bus",
]
