"""Keeping app servers' local copies honest: pub/sub invalidation and Redis client tracking."""

from .pubsub import (AppServer, Invalidation, InvalidationBus, ServerStats, TrackingAppServer, decode_message,
                     encode_message, supports_tracking)

__all__ = ["AppServer", "Invalidation", "InvalidationBus", "ServerStats", "TrackingAppServer", "decode_message",
           "encode_message", "supports_tracking"]
