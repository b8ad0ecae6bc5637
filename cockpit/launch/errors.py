"""The errors the launch layer raises. Each carries a message meant for the user as it is."""

from __future__ import annotations

from cockpit.errors import FileProblem


class PresetError(FileProblem):
    """A preset file (or one of its templates) is wrong: `file:line: field: message`."""


class TemplateError(PresetError):
    """A template does not compile or render; raised as a PresetError of the preset file."""


class ParameterError(ValueError):
    """One or more user-given parameter values are wrong. `errors` maps parameter -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(f"{name}: {msg}" for name, msg in self.errors.items())

    def __reduce__(self):
        return (type(self), (self.errors,))


class LaunchError(Exception):
    """Planning, dry-running, creating or following a launch failed. Nothing half-created is left."""

    def __init__(self, message: str, failures: list[tuple[str, str]] | None = None) -> None:
        self.message = message
        self.failures = list(failures or [])  # (object "Kind/name", server message)
        super().__init__(message)


class LaunchCancelled(LaunchError):
    """The launch was cancelled or interrupted (Ctrl-C, SIGTERM, the form's cancel, the app
    quitting) while objects were being created; what it had created was deleted again."""


class ImageError(Exception):
    """Building or pushing the run image failed; the message holds the engine's error text."""
