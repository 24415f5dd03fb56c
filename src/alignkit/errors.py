"""User-facing errors: what was wrong, where, and how to fix it."""

from __future__ import annotations


class AlignkitError(Exception):
    """An error the CLI prints as one clear message and a non-zero exit."""

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.where:
            text = f"error: {self.where}: {self.message}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text
