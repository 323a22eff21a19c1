"""First In First Out: evict the key written longest ago; reads do not change the order.

    _order:  oldest write ... newest write     only a write moves the key to the right
             ^ popitem() takes this one

As in cachetools, overwriting a key re-queues it as the newest.
"""

from __future__ import annotations

from .cache import QueueCache


class FIFOCache(QueueCache):
    """First In First Out (FIFO) cache."""
