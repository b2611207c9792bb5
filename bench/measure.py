"""Timing and peak-memory helpers shared by every benchmark module.

Each measurement runs in a fresh child process so that one contender's imports, caches and heap never
count against another's: wall time is what the child reports for its own work (or the whole child,
for import-time figures), and peak memory is that child's own high-water mark (`wait4`'s ru_maxrss).
Every contender gets one unmeasured warm-up run (OS page cache, Python bytecode caches) and then
`reps` measured runs; figures quote the median and show the min-max spread.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT_MARKER = "BENCH_RESULT "


@dataclass(frozen=True)
class Sample:
    seconds: float  # the work's own time when the child reports it, else the child's wall time
    peak_mb: float  # the child's peak resident set size
    result: dict  # whatever the child reported besides its time


@dataclass(frozen=True)
class Series:
    samples: list[Sample]

    @property
    def seconds(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mb(self) -> float:
        return statistics.median(s.peak_mb for s in self.samples)


class ChildFailed(RuntimeError):
    pass


# Linux carries a process's peak RSS across exec, and a forked child starts with its parent's: a child
# of a big process (a pytest session, say) would report at least that process's peak. So a child is
# started by this small launcher, which forks and execs it, and reports its wall time and own peak.
_LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"wall": time.perf_counter() - started, "peak_kb": usage.ru_maxrss}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(argv: Sequence[str], env: dict | None = None, cwd: Path | None = None) -> Sample:
    """Run `argv` in a fresh process; its time, peak memory and the result it reported.

    A child reports by printing one line `BENCH_RESULT {"seconds": ..., ...}` (see `report`); one
    that does not is timed from outside, start to exit.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        usage_path = Path(tmp) / "usage.json"
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(usage_path), *argv],
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd or ROOT,
            check=False,
        )
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        usage = json.loads(usage_path.read_text()) if usage_path.exists() else None
    if launched.returncode != 0 or usage is None:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise ChildFailed(f"{' '.join(map(str, argv))[:200]} exited {launched.returncode}:\n{tail}")
    result: dict = {}
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER) :])
    seconds = result.pop("seconds", usage["wall"])
    return Sample(seconds=seconds, peak_mb=usage["peak_kb"] / 1024, result=result)


def python_child(code: str, *args: str) -> list[str]:
    """The argv of a child running `code` with this interpreter (args in sys.argv[1:])."""
    return [sys.executable, "-c", code, *args]


def report(seconds: float, **extra) -> None:
    """Called in a child: hand the parent the work's own time (and anything else it should know)."""
    print(RESULT_MARKER + json.dumps({"seconds": seconds, **extra}), flush=True)


def compare(contenders: dict[str, Callable[[], Sample]], reps: int, warmup: bool = True) -> dict[str, Series]:
    """Measure each contender `reps` times, interleaved round-robin so drift on a shared machine
    (other jobs, thermal) hits every contender alike; one warm-up run each first."""
    if warmup:
        for measure in contenders.values():
            measure()
    samples: dict[str, list[Sample]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, measure in contenders.items():
            samples[name].append(measure())
    return {name: Series(s) for name, s in samples.items()}


def figure(
    name: str,
    value: list[float],
    unit: str,
    baseline: str,
    baseline_value: list[float],
    better: str,
    target: str | None = None,
    met: bool | None = None,
    note: str | None = None,
) -> dict:
    """One figure in the benchmark contract: medians of `value` and `baseline_value`, and the spread."""
    median, base = statistics.median(value), statistics.median(baseline_value)
    out = {
        "name": name,
        "value": median,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": base,
        "ratio": median / base if base else float("nan"),
        "min": min(value),
        "max": max(value),
        "better": better,
        "reps": len(value),
    }
    if target is not None:
        out["target"] = target
    if met is not None:
        out["met"] = met
    if note:
        out["note"] = note
    return out
