"""Shared by the benchmarks: statistics, the machine, and one printed line per figure.

Benchmarks report; they never assert speed (machines are noisy).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence

import psutil


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if "model name" in line)
    except (OSError, StopIteration):
        pass
    tmux = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False).stdout
    tmux = tmux.strip()
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()},"
        f" {tmux}, load {os.getloadavg()[0]:.2f}"
    )


def report(
    name: str, values_ms: Sequence[float], target: str, unit: str = "ms"
) -> dict[str, float]:
    """Print `name: median, p99 (n) | target` and return the figures."""
    med = statistics.median(values_ms) if values_ms else float("nan")
    p99 = percentile(values_ms, 99)
    figures = f"median {med:9.2f} {unit}  p99 {p99:9.2f} {unit}  n={len(values_ms):<4}"
    print(f"{name:<58} {figures} target: {target}")
    return {"median": med, "p99": p99, "n": float(len(values_ms))}


def report_value(name: str, value: float, unit: str, target: str) -> None:
    print(f"{name:<58} {value:12.2f} {unit:<8} target: {target}")
