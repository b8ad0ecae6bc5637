"""Errors about a file the user wrote (a preset, a theme): they name the file, the line and the
field, so the message alone says what to fix."""

from __future__ import annotations

from pathlib import Path


class FileProblem(Exception):
    """`file:line: field: message`; `line` is 1-based, None where there is no line."""

    def __init__(self, file: str | Path, line: int | None, field: str, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def __reduce__(self):
        return (type(self), (self.file, self.line, self.field, self.message))
