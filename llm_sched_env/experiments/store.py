"""A JSON Lines file of result records that survives interruption.

Each record is appended as one line and flushed and fsynced before the next, so an
interrupted run can leave at most one partial line, at the end. Opening the store
detects such a line, truncates it away and reports it; records are keyed by their
cell's config hash, so a rerun skips every cell that already has a record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class ResultStore:
    """Result records of ``path`` by cell key; :meth:`append` adds one durably.

    Without a path, records are only kept in memory.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        self.repaired_bytes = 0  # size of a partial trailing record removed on opening
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def _load(self, path: Path) -> None:
        data = path.read_bytes()
        lines = data.split(b"\n")
        # A complete file ends with a newline, so the last element is b"". Anything else
        # is a record cut short; a final line that does not parse is treated the same.
        good_end = len(data) - len(lines[-1])
        body = lines[:-1]
        if body and not lines[-1] and body[-1].strip() and _parse(body[-1]) is None:
            good_end -= len(body[-1]) + 1
            body = body[:-1]
        for number, line in enumerate(body, start=1):
            if not line.strip():
                continue
            record = _parse(line)
            if record is None:
                raise ValueError(f"{path}:{number}: not a result record (corrupt line)")
            self.records[record["key"]] = record
        if good_end < len(data):
            self.repaired_bytes = len(data) - good_end
            with open(path, "r+b") as f:
                f.truncate(good_end)
                os.fsync(f.fileno())

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line, flushed and fsynced, and index it by its key."""
        if not isinstance(record.get("key"), str):
            raise ValueError("record: needs a string 'key'")
        if self.path is not None:
            self._write(self.path, record)
        self.records[record["key"]] = record

    @staticmethod
    def _write(path: Path, record: dict[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        # One append-mode write() per record: concurrent appenders never interleave lines.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)


def _parse(line: bytes) -> dict[str, Any] | None:
    """The record on ``line``, or None when it is not a complete record."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str) or "config" not in record:
        return None
    return record
