"""The project's own exceptions: every bad input surfaces as one of these."""


class WhatsAppCacheError(ValueError):
    """Base class of every error the library raises on purpose."""


class InvalidInput(WhatsAppCacheError):
    """An argument has the wrong type, shape or size."""


class NotFound(WhatsAppCacheError, LookupError):
    """An id that the source of truth does not know."""


class ConfigError(WhatsAppCacheError):
    """A backend URL or setting that cannot be used."""
