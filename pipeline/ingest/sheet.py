"""One table source as read from a file, before its header is found (:class:`Sheet`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sheet:
    """One table source as read: a CSV file, or one sheet of a workbook (rows of string cells; a record the
    CSV parser could not read is ``(BROKEN, line)``).  ``merged`` holds the workbook's merged ranges as
    (first row, first column, last row, last column), 1-based.

    Running text (a text file, a Word document) brings its own ``header`` (every row is data), the line or
    paragraph number of each row in ``numbers``, and the lines that are not comments in ``set_aside``
    (number, what it is, text)."""

    file: str
    name: str
    rows: list
    encoding: str
    merged: tuple[tuple[int, int, int, int], ...] = ()
    header: tuple[str, ...] = ()
    numbers: tuple[int, ...] = ()
    set_aside: tuple[tuple[int, str, str], ...] = ()

    @property
    def label(self) -> str:
        """How messages name it: the file, plus the sheet for a workbook of several sheets."""
        return f"{self.file}［{self.name}］" if self.name else self.file


__all__ = ["Sheet"]
