"""What machine a benchmark ran on, printed with every result (these machines are shared)."""

from __future__ import annotations

import os
import platform
import sys


def describe() -> dict[str, str | int]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "os": f"{platform.system()} {platform.release()}",
    }


def percentiles(
    samples_ns: list[int], points: tuple[float, ...] = (50, 99, 99.9)
) -> dict[str, float]:
    """Exact percentiles in microseconds from raw nanosecond samples."""
    ordered = sorted(samples_ns)
    out = {}
    for p in points:
        idx = min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))
        out[f"p{p:g}_us"] = round(ordered[idx] / 1000, 2)
    return out
