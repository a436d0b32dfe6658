"""`python -m benchmarks run [NAME...] [--quick] [--json FILE]`."""

from __future__ import annotations

import argparse
import importlib
import sys
import tomllib
from pathlib import Path

import orjson

from benchmarks.environment import describe, header

BENCHMARKS = (
    "transaction",
    "cli_list",
    "invalidation",
    "api",
    "contention",
    "scale",
    "claims",
    "serve_writes",
    "git_merge",
)


def _format_row(row: dict[str, object]) -> str:
    figures = []
    if isinstance(row.get("requests_per_s"), float):
        figures.append(f"{row['requests_per_s']:9.0f} req/s")
    if isinstance(row.get("ops_per_s"), float):
        figures.append(f"{row['ops_per_s']:7.0f} ops/s  lost {row['lost_updates']}")
        if row.get("failed"):
            figures.append(f"failed {row['failed']}")
    if isinstance(row.get("claims_per_s"), float):
        figures.append(
            f"{row['claims_per_s']:7.1f} claims/s  claims {row['claims']} recorded "
            f"{row['recorded']} done {row['tasks_done']} double {row['double_claims']}"
        )
        if row.get("pool_exhausted"):
            figures.append("POOL EXHAUSTED")
        if row.get("failed") or row.get("unrecorded") or row.get("duplicate_tokens"):
            figures.append(
                f"failed {row['failed']} unrecorded {row['unrecorded']} "
                f"duplicate tokens {row['duplicate_tokens']}"
            )
    if isinstance(row.get("lost_writes"), int):
        figures.append(f"acknowledged {row['acknowledged']} failed {row['failed']}")
        figures.append(f"lost {row['lost_writes']}")
    if isinstance(row.get("ratio_to_sqlite_http"), float):
        figures.append(f"{row['ratio_to_sqlite_http']:.2f} x sqlite http")
    if isinstance(row.get("ratio_to_sqlite"), float):
        figures.append(f"{row['ratio_to_sqlite']:.2f} x sqlite")
    if isinstance(row.get("journal_ratio"), float):
        figures.append(
            f"without journal {row['without_journal_median_ms']:.3f}: "
            f"{row['journal_ratio']:.2f} x without"
        )
    if isinstance(row.get("ratio_to_100_tasks"), float):
        figures.append(f"{row['ratio_to_100_tasks']:.2f} x at 100 tasks")
    if isinstance(row.get("speedup_over_uncached"), float):
        figures.append(f"{row['speedup_over_uncached']:.1f} x uncached")
    if isinstance(row.get("l2_hit_rate"), float):
        figures.append(
            f"L2 hits {row['l2_hits']:.0f} / misses {row['l2_misses']:.0f}: "
            f"hit rate {row['l2_hit_rate']:.0%}"
        )
    if isinstance(row.get("writes_per_group"), float):
        figures.append(f"{row['writes_per_group']:.1f} writes a group")
    if isinstance(row.get("wait_per_group_ms"), float):
        figures.append(f"leader waited {row['wait_per_group_ms']:.2f} ms a group")
    if isinstance(row.get("cpu_ms_per_request"), float):
        figures.append(f"CPU {row['cpu_ms_per_request']:.3f} ms a request")
    if isinstance(row.get("cores_used"), float):
        figures.append(f"on {row['cores_used']:.2f} cores")
    if isinstance(row.get("peak_mib"), float):
        figures.append(f"peak {row['peak_mib']:.1f} MiB")
    for key in ("median_ms", "p95_ms", "p99_ms", "max_ms"):
        if isinstance(row.get(key), float):
            figures.append(f"{key[:-3]} {row[key]:8.3f}")
    if isinstance(row.get("best_round_median_ms"), float):
        figures.append(f"best round median {row['best_round_median_ms']:.3f}")
    if isinstance(row.get("ratio_to_floor"), float):
        figures.append(
            f"floor {row['floor_best_round_median_ms']:.3f}: {row['ratio_to_floor']:.2f} x floor"
        )
    verdicts = []
    for key, figure, sense in (
        ("target_median_ms", "median_ms", "<="),
        ("target_p99_ms", "p99_ms", "<"),
        ("target_ratio", "ratio_to_ceiling", ">="),
        ("target_ratio_to_sqlite", "ratio_to_sqlite", ">="),
        ("target_ratio_to_100_tasks", "ratio_to_100_tasks", "<="),
        ("target_journal_ratio", "journal_ratio", "<="),
        ("target_ratio_to_sqlite_http", "ratio_to_sqlite_http", ">="),
        ("target_ratio_to_floor", "ratio_to_floor", "<="),
    ):
        target, value = row.get(key), row.get(figure)
        if isinstance(target, float) and isinstance(value, float):
            met = (
                value <= target
                if sense == "<="
                else value < target
                if sense == "<"
                else value >= target
            )
            shown = f"{value:.2f}" if "ratio" in figure else f"{value:.2f} ms"
            verdicts.append(f"{figure} {shown} {sense} {target:g}: {'met' if met else 'MISSED'}")
    return f"  {row['case']:<40} n={row['n']:<6} {'  '.join(figures)}  {'; '.join(verdicts)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run benchmarks and print a table")
    run.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"which to run (default: all of {', '.join(BENCHMARKS)})",
    )
    run.add_argument("--quick", action="store_true", help="fewer repetitions, for CI")
    run.add_argument("--json", type=Path, help="also write the results to this file")
    run.add_argument("--plot", type=Path, metavar="DIR", help="write PNG charts into DIR")
    gate = sub.add_parser("gate", help="check results against benchmarks/gates.toml")
    gate.add_argument(
        "results",
        nargs="?",
        type=Path,
        default=Path("results/bench.json"),
        help="results written by `run --json` (default: results/bench.json)",
    )
    gate.add_argument(
        "--gates",
        type=Path,
        metavar="TOML",
        help="the gates to check (default: benchmarks/gates.toml)",
    )
    plot = sub.add_parser("plot", help="chart results saved by `run --json`")
    plot.add_argument("results", type=Path, help="results written by `run --json`")
    plot.add_argument(
        "--into", type=Path, metavar="DIR", required=True, help="write PNG charts into DIR"
    )
    plot.add_argument(
        "--before",
        type=Path,
        metavar="EARLIER",
        help="an earlier run's results, drawn beside them where a chart can show both",
    )
    args = parser.parse_args(argv)
    if args.command == "gate":
        return _gate(args.results, args.gates)
    if args.command == "plot":
        return _plot(args.results, args.into, args.before)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    env = describe()
    print(header(env))
    results = []
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n{name}: {module.DESCRIPTION}", flush=True)
        for row in module.run(quick=args.quick):
            print(_format_row(row), flush=True)
            results.append(row)
    # The results first: a chart that cannot be drawn must not cost the measurements.
    if args.json:
        args.json.write_bytes(
            orjson.dumps({"environment": env, "results": results}, option=orjson.OPT_INDENT_2)
        )
        print(f"\nresults written to {args.json}")
    if args.plot:
        from benchmarks.plots import write_charts

        for chart in write_charts(results, args.plot):
            print(f"chart: {chart}")
    return 0


def _saved(path: Path) -> list[dict[str, object]]:
    """The results of a `run --json` file (SystemExit with the reason when it has none)."""
    try:
        saved = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as err:
        raise SystemExit(f"cannot read results from {path}: {err}") from None
    results = saved.get("results") if isinstance(saved, dict) else None
    if not isinstance(results, list):
        raise SystemExit(f"{path} holds no results (write them with `run --json`)")
    return results


def _plot(path: Path, directory: Path, before: Path | None) -> int:
    from benchmarks.plots import write_charts

    results = _saved(path)
    charts = write_charts(results, directory, _saved(before) if before else None)
    for chart in charts:
        print(f"chart: {chart}")
    if not charts:
        print(f"{path}: nothing to chart", file=sys.stderr)
        return 1
    return 0


def _gate(path: Path, gates_file: Path | None = None) -> int:
    from benchmarks.gates import GATES_FILE, check, load_gates

    try:
        gates = load_gates(gates_file or GATES_FILE)
    except (OSError, tomllib.TOMLDecodeError, KeyError) as err:
        print(f"cannot read gates from {gates_file or GATES_FILE}: {err}", file=sys.stderr)
        return 2
    try:
        results = orjson.loads(path.read_bytes())["results"]
    except (OSError, orjson.JSONDecodeError, KeyError) as err:
        print(f"cannot read benchmark results from {path}: {err}", file=sys.stderr)
        return 2
    verdicts = check(results, gates)
    for verdict in verdicts:
        print(f"{'pass' if verdict.passed else 'FAIL'}  {verdict.gate}\n      {verdict.detail}")
    failed = sum(not verdict.passed for verdict in verdicts)
    print(f"\n{len(verdicts) - failed} of {len(verdicts)} gates pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
