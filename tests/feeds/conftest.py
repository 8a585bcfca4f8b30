"""Shared helpers for the feed tests: recorded samples and venue sessions."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"
SHARED_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "feeds" / "samples.md"


def sample_lines(venue: str) -> list[bytes]:
    return [line.encode() for line in (SAMPLES / f"{venue}.jsonl").read_text().splitlines()]
