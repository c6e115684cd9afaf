"""Errors the pipeline raises on purpose: each names what is wrong and how to fix it."""


class PhrenologyError(Exception):
    """Base class: an expected failure with a message meant for the user, not a traceback."""


class ConfigError(PhrenologyError, ValueError):
    """A configuration value is missing, of the wrong type, or inconsistent with another."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"config key '{key}': {message}")


class DataError(PhrenologyError, OSError):
    """An input file or data asset is missing, unreadable or not what it should be."""
