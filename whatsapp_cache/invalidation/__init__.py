"""Keeping app servers' local copies honest: pub/sub invalidation and Redis client tracking."""

from .base import ServerStats
from .pubsub import AppServer, Invalidation, InvalidationBus, decode_message, encode_message
from .tracking import TrackingAppServer, supports_tracking

__all__ = ["AppServer", "Invalidation", "InvalidationBus", "ServerStats", "TrackingAppServer", "decode_message",
           "encode_message", "supports_tracking"]
