"""The seed's five cached data types, each in its own module."""

from .base import Context
from .groups import GroupMembers
from .messages import Message, RecentMessages
from .presence import PerHeartbeatPresence, Presence
from .profiles import Profile, Profiles
from .sessions import SecretToken, Session, Sessions

__all__ = ["Context", "GroupMembers", "Message", "PerHeartbeatPresence", "Presence", "Profile", "Profiles",
           "RecentMessages", "SecretToken", "Session", "Sessions"]
