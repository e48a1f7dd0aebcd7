"""User-facing errors: one short message naming the bad value and the fix."""


class TinyxError(Exception):
    """A problem the user can fix (config, files, checkpoints).

    Entry points print the message alone (no traceback) and exit with `exit_code`.
    """

    exit_code = 2


class ConfigError(TinyxError):
    """A config value that is wrong on its own or together with another."""


class DataError(TinyxError):
    """A corpus or token cache that is missing, empty, unreadable or too short."""


class CheckpointError(TinyxError):
    """A checkpoint that is missing, corrupt, or does not fit this run."""
