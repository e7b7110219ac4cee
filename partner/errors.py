"""The one error type the partner-side checks and normalisers raise.

A row whose value fails a check is rejected with this error's message in the rejects file.
That file may be shared with the data-quality contact of the partner, so the reason names
the field and the rule but never repeats the value itself.
"""

from __future__ import annotations


class InvalidValue(ValueError):
    """A value that fails its check. ``str(exc)`` is ``"<field>: <reason>"``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidValue], tuple[str, str]]:
        # Keeps the two-argument constructor working across pickling (multiprocessing).
        return (type(self), (self.field, self.reason))
