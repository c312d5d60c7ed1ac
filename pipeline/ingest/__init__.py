"""Ingest: read a meeting's transcribed CSV/XLSX files and validate them row by row.

- :mod:`~pipeline.ingest.read` — decode and read a file into string cells (the only module that reads tables;
  :mod:`~pipeline.ingest.documents` turns running text — a text file, a Word document — into a sheet);
- :mod:`~pipeline.ingest.columns` — map headers to the canonical columns;
- :mod:`~pipeline.ingest.validate` — validate rows into the schemas of :mod:`pipeline.schemas`, refuse the rest;
- :mod:`~pipeline.ingest.discover` — find a meeting's files, meeting folders and the policy table;
- :mod:`~pipeline.ingest.meeting` — all of it for one meeting folder (:func:`load_meeting`).
"""

from pipeline.ingest.columns import canonical_columns, header_key, label
from pipeline.ingest.discover import (
    INPUT_KINDS,
    SUFFIXES,
    discover_meetings,
    find_input_files,
    find_measures,
    meeting_id_for,
    read_meeting_meta,
)
from pipeline.ingest.header import read_table
from pipeline.ingest.meeting import MeetingInputs, load_measures, load_meeting, load_policy, policy_for
from pipeline.ingest.read import ROW, RawTable, decode_bytes, empty_rejects, make_rejects
from pipeline.ingest.validate import (
    Validated,
    clean_id,
    parse_int,
    split_ids,
    validate_cards,
    validate_feedback,
    validate_measures,
    validate_votes,
)

__all__ = [
    "INPUT_KINDS",
    "ROW",
    "SUFFIXES",
    "MeetingInputs",
    "RawTable",
    "Validated",
    "canonical_columns",
    "clean_id",
    "decode_bytes",
    "discover_meetings",
    "empty_rejects",
    "find_input_files",
    "find_measures",
    "header_key",
    "label",
    "load_measures",
    "load_meeting",
    "load_policy",
    "make_rejects",
    "meeting_id_for",
    "parse_int",
    "policy_for",
    "read_meeting_meta",
    "read_table",
    "split_ids",
    "validate_cards",
    "validate_feedback",
    "validate_measures",
    "validate_votes",
]
