"""Errors a user can act on. Each names the file, line, event or config key at fault."""


class ResimError(Exception):
    """Base class: anything resim raises on purpose."""


class ConfigError(ResimError):
    """A config key is unknown, missing or has a bad value."""


class LHEError(ResimError):
    """An LHE file is missing, truncated or malformed."""


class GeneratorError(ResimError):
    """A generator refused a setting, failed to initialise or to produce an event."""


class BackendMissingError(ResimError):
    """An external program selected in the config is not installed."""


class DatasetError(ResimError):
    """An HDF5 dataset file is missing, truncated or does not follow the schema."""


class OutputError(ResimError):
    """An output cannot be written where the user asked (read-only, a file in the way, ...)."""
