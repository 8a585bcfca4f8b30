"""Prometheus metrics with a hot path of a dict increment and a bisect.

prometheus_client takes a lock per observation; the gateway's event loop is single-threaded, so
plain counters and fixed-bucket histograms are enough, rendered in the text exposition format
on ``GET /metrics``. Gauges are read from callbacks at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{v}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}"


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for labels, value in sorted(self.values.items()):
            out.append(f"{self.name}_total{_labels(self.label_names, labels)} {value}")
        return out


class Histogram:
    def __init__(
        self,
        name: str,
        help_text: str,
        buckets: tuple[float, ...] = LATENCY_BUCKETS,
        labels: tuple[str, ...] = (),
    ) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self.buckets = buckets
        self.series: dict[tuple[str, ...], list[float]] = {}
        """labels -> [count per bucket..., +Inf count, sum]."""

    def observe(self, value: float, *labels: str) -> None:
        s = self.series.get(labels)
        if s is None:
            s = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        s[bisect_left(self.buckets, value)] += 1
        s[-1] += value

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels, s in sorted(self.series.items()):
            running = 0.0
            for bound, count in zip((*self.buckets, float("inf")), s[:-1], strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lbl = _labels((*self.label_names, "le"), (*labels, le))
                out.append(f"{self.name}_bucket{lbl} {running}")
            base = _labels(self.label_names, labels)
            out.append(f"{self.name}_count{base} {running}")
            out.append(f"{self.name}_sum{base} {s[-1]}")
        return out


class Gauge:
    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help_text, read

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge",
                f"{self.name} {float(self.read())}"]  # fmt: skip


class Metrics:
    """The gateway's metrics; the node's own (journal fsync time) are added as gauges/callbacks."""

    def __init__(self) -> None:
        self.requests = Counter(
            "cambist_http_requests", "HTTP requests by route and status", ("route", "status")
        )
        self.commands = Counter("cambist_commands", "Commands submitted by type", ("command",))
        self.rejections = Counter("cambist_rejections", "Refusals by error code", ("code",))
        self.command_latency = Histogram(
            "cambist_command_latency_seconds",
            "From a command's arrival at the sequencer to its durable, applied answer",
            labels=("command",),
        )
        self.batch_size = Histogram(
            "cambist_sequencer_batch_size", "Commands per group commit", SIZE_BUCKETS
        )
        self.batch_latency = Histogram(
            "cambist_sequencer_batch_seconds",
            "Time for one group commit (journal write, fsync and apply)",
        )
        self.extra: list[Counter | Histogram | Gauge] = []

    def add(self, metric: Counter | Histogram | Gauge) -> None:
        self.extra.append(metric)

    def render(self) -> bytes:
        lines: list[str] = []
        for m in (
            self.requests, self.commands, self.rejections, self.command_latency,
            self.batch_size, self.batch_latency, *self.extra,
        ):  # fmt: skip
            lines.extend(m.render())
        return ("\n".join(lines) + "\n").encode()
