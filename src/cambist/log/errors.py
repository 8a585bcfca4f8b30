"""Errors of the log layer. Each names the file and byte offset involved, for the operator."""

from __future__ import annotations

from pathlib import Path


class JournalError(Exception):
    """Base of every journal failure."""


class CorruptRecordError(JournalError):
    """A record that fails its checks somewhere other than the torn tail: the journal will not
    start rather than silently skip it (skipping would change the state every replay gives)."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"corrupt journal record in {path} at offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class JournalWriteError(JournalError):
    """A write or fsync failed (disk full, I/O error). The journal refuses further appends: after
    a failed fsync the kernel may have dropped dirty pages, so only a restart (which re-reads and
    cuts the tail) knows what is on disk."""


class JournalClosedError(JournalError):
    """An append to a journal that was closed."""


class JournalLockedError(JournalError):
    """Another process already writes to this journal directory."""


class SnapshotError(JournalError):
    """A snapshot file that cannot be used (truncated, checksum mismatch, wrong version)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"unusable snapshot {path}: {reason}")
        self.path = path
        self.reason = reason


class CodecError(JournalError):
    """Bytes that do not decode to commands, or a command the codec does not know."""
