"""`python -m bench [--quick] [--json] [--only NAME] [--output FILE]`: every benchmark, one report.

Discovers each module `bench/<name>.py` that defines `run(quick: bool) -> list[dict]` (one dict per
figure, see measure.figure), runs them in name order, prints every figure with its same-run baseline,
ratio and spread, and writes the table to BENCHMARKS.md (or --output). `--json` prints one JSON object
mapping each figure's name to its fields instead of the text lines.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import re
import shlex
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

from bench.measure import ROOT

NOT_BENCHMARKS = {"__main__", "measure"}
VERSIONS = ("dagster", "dagster-dbt", "dbt-core", "duckdb", "pyarrow", "pandas")


def discover() -> dict[str, object]:
    """Every bench module with a `run` function, by name. Names starting with `_` are helpers."""
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name in NOT_BENCHMARKS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "run", None)):
            found[info.name] = module
    return dict(sorted(found.items()))


def target_met(fig: dict) -> bool | None:
    """Whether a figure meets its target (None without one): '≥ 0.8', '<= 1.3', '< 20', 'ratio < 3'
    bound the ratio; a target with a unit ('< 20 ms') bounds the value itself."""
    if "met" in fig:
        return fig["met"]
    match = re.fullmatch(
        r"\s*(?:ratio\s*)?(≥|>=|≤|<=|<|>)\s*([0-9.]+)\s*(×|[A-Za-z/]+)?\s*", str(fig.get("target", ""))
    )
    if not match:
        return None
    op, bound, unit = match.group(1), float(match.group(2)), match.group(3)
    measured = fig["value"] if unit and unit != "×" else fig["ratio"]
    return {
        "≥": measured >= bound,
        ">=": measured >= bound,
        "≤": measured <= bound,
        "<=": measured <= bound,
        "<": measured < bound,
        ">": measured > bound,
    }[op]


def _num(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_line(fig: dict) -> str:
    met = fig.get("met")
    verdict = "" if met is None else ("  target " + fig["target"] + (" met" if met else " NOT met"))
    return (
        f"{fig['name']:<34} {_num(fig['value']):>12} {fig['unit']:<6} vs {fig['baseline']} "
        f"{_num(fig['baseline_value'])}: ratio {fig['ratio']:.2f}  "
        f"(spread {_num(fig['min'])}–{_num(fig['max'])}, {fig.get('reps', '?')} reps){verdict}"
    )


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = []
    for package in VERSIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": ", ".join(versions),
    }


def write_markdown(path: Path, figures: list[dict], failures: dict, info: dict, command: str) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {info['date']} ({info['seconds']:.0f} s). Each figure is the median of "
        "several runs, each in a fresh process; its baseline is measured in the same invocation on the "
        "same input, interleaved with it, with one unmeasured warm-up run each. *Spread* is the min–max "
        "of the figure's own runs. A target bounds the ratio, unless it names a unit (`< 20 ms`): then "
        "it bounds the value.",
        "",
        "| figure | value | baseline | baseline value | ratio | spread | target | met? |",
        "|---|---:|---|---:|---:|---:|---|---|",
    ]
    for fig in figures:
        met = fig.get("met")
        lines.append(
            f"| `{fig['name']}` | {_num(fig['value'])} {fig['unit']} | {fig['baseline']} | "
            f"{_num(fig['baseline_value'])} {fig['unit']} | {fig['ratio']:.2f} | "
            f"{_num(fig['min'])}–{_num(fig['max'])} | {fig.get('target', '')} | "
            f"{'' if met is None else ('yes' if met else '**no**')} |"
        )
    notes = [f"- `{f['name']}`: {f['note']}" for f in figures if f.get("note")]
    if notes:
        lines += ["", "## Notes", "", *notes]
    if failures:
        lines += ["", "## Benchmarks that failed", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in failures.items()]
    lines += [
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']} ({info['cores']} cores), memory {info['memory']}",
        f"- OS: {info['os']}; Python {info['python']}",
        f"- {info['versions']}",
        f"- load average before / after: {info['load_before']} / {info['load_after']}",
        "",
        "The machine is shared (other jobs ran during the measurement), so absolute numbers move between "
        "runs; the ratios against a baseline measured in the same run, interleaved, are what to read.",
        "",
    ]
    path.write_text("\n".join(lines))


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one run each: seconds, not minutes"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object {figure: {...}}")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this module (repeatable; see --list)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the table (default: BENCHMARKS.md for a full run of every benchmark; a "
        "--quick or --only run writes only where this says, so it never replaces the full figures)",
    )
    args = parser.parse_args(argv)

    modules = discover()
    if args.list:
        for name, module in modules.items():
            print(f"{name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        return 0
    unknown = sorted(set(args.only or []) - set(modules))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(modules)}", file=sys.stderr)
        return 2
    selected = {n: m for n, m in modules.items() if not args.only or n in args.only}

    started, load_before = time.perf_counter(), _load()
    figures: list[dict] = []
    failures: dict[str, str] = {}
    for name, module in selected.items():
        if not args.json:
            print(f"== {name}{' (quick)' if args.quick else ''}", flush=True)
        try:
            produced = module.run(args.quick)
        except Exception as error:  # one broken benchmark must not hide the others' figures
            failures[name] = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            print(f"{name} failed: {failures[name]}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            continue
        for fig in produced:
            met = target_met(fig)
            if met is not None:
                fig["met"] = met
            figures.append(fig)
            if not args.json:
                print(format_line(fig), flush=True)

    info = machine() | {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": time.perf_counter() - started,
        "load_before": load_before,
        "load_after": _load(),
    }
    command = "python -m bench " + shlex.join(a for a in (argv if argv is not None else sys.argv[1:]))
    output = args.output or (None if args.quick or args.only else ROOT / "BENCHMARKS.md")
    if output:
        write_markdown(output, figures, failures, info, command.strip())
    if args.json:
        print(json.dumps({f["name"]: f for f in figures}, indent=2))
    elif output:
        print(f"wrote {output}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
