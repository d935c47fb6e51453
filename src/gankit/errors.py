"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class GankitError(Exception):
    """A problem with the user's input (config, data, run directory), stated with its fix."""


class ConfigError(GankitError, ValueError):
    pass


class DataError(GankitError):
    pass


class Interrupted(GankitError):
    """Ctrl-C (a second one during a graceful stop, or one during start-up): one line, exit 130."""

    exit_code = 130
