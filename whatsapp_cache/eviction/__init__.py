"""Eviction policies (LRU, LFU, FIFO) as bounded mappings, and a fast trace simulator for them."""

from .cache import Cache
from .fifo import FIFOCache
from .lfu import LFUCache
from .lru import LRUCache
from .simulator import POLICIES, SimulationResult, format_results, replay, simulate

__all__ = ["POLICIES", "Cache", "FIFOCache", "LFUCache", "LRUCache", "SimulationResult", "format_results",
           "replay", "simulate"]
