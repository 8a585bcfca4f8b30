"""The embedded journal against the command-log conformance suite."""

from __future__ import annotations

from pathlib import Path

from cambist.log.interface import CommandLog
from cambist.log.journal import Journal
from tests.log.conformance import CommandLogConformance


class TestJournalConformance(CommandLogConformance):
    async def open_log(self, path: Path) -> CommandLog:
        return Journal.open(path / "journal")


class TestSmallSegmentJournalConformance(CommandLogConformance):
    """The same behaviour when segments roll every few records."""

    async def open_log(self, path: Path) -> CommandLog:
        return Journal.open(path / "journal", segment_bytes=2048)
