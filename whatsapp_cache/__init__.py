"""whatsapp_cache: the caching layer of a WhatsApp-scale messaging system, as a library and a course."""

from .clock import SimulatedClock, SystemClock
from .errors import ConfigError, InvalidInput, NotFound, WhatsAppCacheError
from .latency import LatencyModel
from .ttl import TTLs
from .world import World

__all__ = ["ConfigError", "InvalidInput", "LatencyModel", "NotFound", "SimulatedClock", "SystemClock", "TTLs",
           "WhatsAppCacheError", "World"]
__version__ = "0.1.0"
