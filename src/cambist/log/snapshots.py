"""Snapshots of engine state: written atomically, checked on load, the newest usable one wins.

File layout (``snapshots/<seq:020d>.snap``)::

    magic "CAMBSNP1" | version u32 | seq u64 | state hash 32 ascii hex | length u64 |
    crc32 u32 (of the payload) | payload (Engine.snapshot() bytes)

Written as a temporary file, fsynced, renamed into place, then the directory fsynced: a crash at
any moment leaves either no new snapshot or a complete one. The domain defines the state hash as
the BLAKE2b-128 of the snapshot bytes, so loading checks it without rebuilding the engine twice.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import structlog

from cambist.log.errors import SnapshotError

log = structlog.get_logger("cambist.snapshots")

SNAPSHOT_MAGIC = b"CAMBSNP1"
SNAPSHOT_FORMAT = 1
_HEADER = struct.Struct("<8sIQ32sQI")
SUFFIX = ".snap"


def payload_hash(payload: bytes) -> str:
    """The engine's state hash of the state these snapshot bytes hold."""
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


@dataclass(slots=True, frozen=True)
class SnapshotInfo:
    path: Path
    seq: int
    state_hash: str
    size: int


class SnapshotStore:
    """The snapshots directory of one journal; keeps the newest ``keep`` snapshots."""

    def __init__(self, directory: Path, *, keep: int = 3) -> None:
        self.directory = directory
        self.keep = keep

    def paths(self) -> list[tuple[int, Path]]:
        """(seq, path) of every snapshot file by its name, newest first."""
        if not self.directory.is_dir():
            return []
        out = []
        for entry in os.scandir(self.directory):
            stem = entry.name[: -len(SUFFIX)]
            if entry.name.endswith(SUFFIX) and stem.isdigit():
                out.append((int(stem), Path(entry.path)))
        out.sort(reverse=True)
        return out

    def write(self, seq: int, payload: bytes) -> SnapshotInfo:
        """Write atomically (temporary file, fsync, rename, fsync of the directory)."""
        from cambist.log.journal import fsync_dir

        self.directory.mkdir(parents=True, exist_ok=True)
        digest = payload_hash(payload)
        header = _HEADER.pack(
            SNAPSHOT_MAGIC, SNAPSHOT_FORMAT, seq, digest.encode(), len(payload), zlib.crc32(payload)
        )
        final = self.directory / f"{seq:020d}{SUFFIX}"
        tmp = self.directory / f".{seq:020d}{SUFFIX}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(header + payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(tmp, final)
        fsync_dir(self.directory)
        self._prune()
        return SnapshotInfo(final, seq, digest, _HEADER.size + len(payload))

    def _prune(self) -> None:
        removed = False
        for _seq, path in self.paths()[self.keep :]:
            path.unlink(missing_ok=True)
            removed = True
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".tmp"):
                os.unlink(entry.path)
                removed = True
        if removed:
            from cambist.log.journal import fsync_dir

            fsync_dir(self.directory)

    @staticmethod
    def read(path: Path) -> tuple[SnapshotInfo, bytes]:
        """Read and check one snapshot; raise :class:`SnapshotError` saying what is wrong."""
        data = path.read_bytes()
        if len(data) < _HEADER.size:
            raise SnapshotError(path, f"truncated: {len(data)} bytes, header needs {_HEADER.size}")
        magic, version, seq, digest, length, crc = _HEADER.unpack_from(data)
        if magic != SNAPSHOT_MAGIC:
            raise SnapshotError(path, "not a Cambist snapshot (bad magic)")
        if version != SNAPSHOT_FORMAT:
            raise SnapshotError(path, f"unsupported snapshot format {version}")
        payload = data[_HEADER.size :]
        if len(payload) != length:
            raise SnapshotError(path, f"truncated: payload is {len(payload)} bytes of {length}")
        if zlib.crc32(payload) != crc:
            raise SnapshotError(path, "payload checksum mismatch")
        state_hash = digest.decode("ascii", "replace")
        if payload_hash(payload) != state_hash:
            raise SnapshotError(path, "state hash does not match the payload")
        return SnapshotInfo(path, seq, state_hash, len(data)), payload

    def info(self, path: Path) -> SnapshotInfo | str:
        """The snapshot's header facts, or why it is unusable (for ``journal inspect``)."""
        try:
            return self.read(path)[0]
        except (SnapshotError, OSError) as exc:
            return str(exc)

    def newest(self, max_seq: int | None = None) -> tuple[SnapshotInfo | None, bytes, list[str]]:
        """The newest usable snapshot at or below ``max_seq``, its payload, and a warning for each
        newer one that had to be skipped (a corrupt snapshot is never fatal: replay covers it)."""
        warnings: list[str] = []
        for seq, path in self.paths():
            if max_seq is not None and seq > max_seq:
                continue
            try:
                info, payload = self.read(path)
            except (SnapshotError, OSError) as exc:
                msg = f"{exc}; falling back to an older snapshot or a full replay"
                log.warning("snapshot.unusable", path=str(path), error=str(exc))
                warnings.append(msg)
                continue
            if info.seq != seq:
                warnings.append(f"snapshot {path} holds seq {info.seq}, not {seq}; skipped")
                continue
            return info, payload, warnings
        return None, b"", warnings
