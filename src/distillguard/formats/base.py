"""What every log format provides.

A log file becomes *native records* (DESIGN.md §3.1: one dict per API request). The native format needs no
conversion; every other format is a `RecordAdapter` that turns one parsed input record (a JSON value) into
zero or more native records. Validation, message normalisation and storage happen once, in SQL, on the native
records, so an adapter only maps fields and never decides what is valid beyond its own structure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class BadRecord(ValueError):
    """A record that cannot become an event. The message is the quarantine reason a person will read."""


class RecordAdapter(ABC):
    """Maps one parsed record of a foreign log format onto native records.

    Subclasses set `name` (the `--format` value) and implement `sniff` and `to_native`. Unknown fields of the
    input record should be carried over (the native format keeps unknown top-level keys).
    """

    name: ClassVar[str]

    @abstractmethod
    def sniff(self, record: Any) -> bool:
        """True when a parsed record (the first one of a file) looks like this format."""

    @abstractmethod
    def to_native(self, record: Any) -> list[dict[str, Any] | BadRecord]:
        """Native records for one input record.

        A record holding many requests (an OTLP export with many spans) returns one item per request; an item
        that cannot be converted is returned as a `BadRecord` so its siblings are still kept. Raise
        `BadRecord` when the record as a whole is unusable.
        """
