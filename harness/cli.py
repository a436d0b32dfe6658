"""`harness`: replay the design documents' races with real processes and check the guarantees.

    harness list
    harness run NAME [NAME...] | all [--quick] [--seed N] [--writers N] [--ops M]
                [--instances K] [--only safe|baseline] [--json] [--keep] [--run-dir PATH]
    harness replay RUN_DIR [--json]

Every scenario runs against the naive baseline and against taskmaster, with the same seed.
Exit 0 only when taskmaster holds every invariant and every baseline shows its failure. A
scenario that needs redis-server where there is none is skipped (TM_REQUIRE_REDIS=1: failed);
so is one on PostgreSQL without its server binaries (TM_REQUIRE_POSTGRES=1: failed). The
PostgreSQL scenarios share one throwaway cluster, started on first use and stopped at the end.
Progress goes to stderr, the verdict table (or `--json`) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from harness import report
from harness.actors import close_stores
from harness.processes import Interrupted, RunFolder, install_signal_handlers
from harness.progress import Progress
from harness.runners import RUNNERS, ScenarioRun, ScenarioSkipped
from harness.runners.postgres_support import stop_shared
from harness.scenarios import SCENARIO_DIR, Scenario, ScenarioError, load_all, select
from harness.targets import BASELINE, SAFE

EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness", description=__doc__.split("\n\n")[0].strip("`")
    )
    parser.add_argument(
        "--scenarios",
        type=Path,
        default=SCENARIO_DIR,
        help="folder of scenario files (default: the repository's scenarios/)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the scenarios, one line each")

    run = commands.add_parser("run", help="run scenarios against both targets and check them")
    run.add_argument("names", nargs="+", metavar="NAME", help="scenario names, or `all`")
    run.add_argument("--quick", action="store_true", help="the small sizes (for CI)")
    run.add_argument("--seed", type=int, help="random seed (default: a fresh one, printed)")
    run.add_argument("--writers", type=int, help="writer processes (every `writers` parameter)")
    run.add_argument("--ops", type=int, help="operations per writer (every `ops` parameter)")
    run.add_argument("--instances", type=int, help="API server processes per scenario")
    run.add_argument("--only", choices=(SAFE, BASELINE), help="run one target only")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    run.add_argument("--keep", action="store_true", help="keep the run folder (path on stderr)")
    run.add_argument("--run-dir", type=Path, help="put the run folder here (implies --keep)")
    run.add_argument("--quiet", action="store_true", help="no progress lines")

    replay = commands.add_parser("replay", help="re-check the histories of a kept run")
    replay.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    replay.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def cmd_list(args: argparse.Namespace) -> int:
    scenarios = load_all(args.scenarios)
    width = max(len(s.name) for s in scenarios)
    for scenario in scenarios:
        print(f"{scenario.name:<{width}}  {scenario.summary}")
    return 0


def run_one(scenario: Scenario, target: str, root: Path, seed: int, quiet: bool) -> report.Row:
    progress = Progress(f"{scenario.name}/{target}", quiet=quiet)
    progress.say("starting")
    started = time.monotonic()
    run = ScenarioRun(scenario, target, root, seed, progress)
    try:
        run.prepare()
        RUNNERS[scenario.kind](run)
    except ScenarioSkipped as skip:
        run.config["skipped"] = str(skip)
    except Exception as err:
        run.config["error"] = f"{type(err).__name__}: {err}"
        (run.dir / "error.txt").write_text(traceback.format_exc())
    finally:
        run.close()
    row = report.evaluate(run.dir)
    progress.say(f"{report._verdict_text(row)} in {time.monotonic() - started:.1f} s")
    return row


def cmd_run(args: argparse.Namespace) -> int:
    overrides = {"writers": args.writers, "ops": args.ops, "instances": args.instances}
    scenarios = select(load_all(args.scenarios, quick=args.quick, overrides=overrides), args.names)
    if args.run_dir is not None and args.run_dir.exists() and any(args.run_dir.iterdir()):
        raise ScenarioError(f"--run-dir {args.run_dir} is not empty: histories would mix")
    install_signal_handlers()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(3), "big")
    targets = [args.only] if args.only else [BASELINE, SAFE]
    folder = RunFolder(args.run_dir, keep=args.keep)
    started = time.monotonic()
    rows: list[report.Row] = []
    print(
        f"harness: seed {seed}, {_count(len(scenarios), 'scenario')} x "
        f"{_count(len(targets), 'target')} ({' and '.join(targets)}); each scenario starts "
        "real processes that race on one task file and records every operation",
        file=sys.stderr,
    )
    kept = "kept at the end" if folder.keep else "removed at the end (--keep keeps it)"
    print(
        f"harness: run folder {folder.path} holds the projects and recorded histories; {kept}",
        file=sys.stderr,
    )
    (folder.path / "run.json").write_text(
        json.dumps(
            {
                "seed": seed,
                "quick": args.quick,
                "scenarios": [s.name for s in scenarios],
                "targets": targets,
                "overrides": overrides,
            },
            indent=2,
        )
    )
    try:
        for scenario in scenarios:
            for target in targets:
                rows.append(run_one(scenario, target, folder.path, seed, args.quiet))
        duration = round(time.monotonic() - started, 1)
        extra = {
            "seed": seed,
            "quick": args.quick,
            "duration_s": duration,
            "run_dir": str(folder.path) if folder.keep else None,
        }
        (folder.path / "results.json").write_text(report.as_json(rows, **extra))
        if args.json:
            print(report.as_json(rows, **extra))
            if report.exit_code(rows):
                print(report.failures(rows), file=sys.stderr)
        else:
            print(report.table(rows))
            print(f"\n{report.LEGEND}")
            print(f"\n{_count(len(rows), 'row')} in {duration} s, seed {seed}", end="")
            if report.exit_code(rows) == 0:
                print(": all pass (every baseline showed its bug, Task Master held)", end="")
            else:
                print(": FAILED", end="")
            skipped = sum(row.verdict == report.SKIPPED for row in rows)
            print(f" ({skipped} skipped)" if skipped else "")
            failed = report.failures(rows)
            if failed:
                print(failed)
        return report.exit_code(rows)
    except (KeyboardInterrupt, Interrupted):
        print("\nharness: interrupted; every process reaped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        close_stores()
        stop_shared()
        folder.cleanup()
        if folder.keep:
            print(f"harness: run folder kept: {folder.path}", file=sys.stderr)
        else:
            print(f"harness: run folder {folder.path} removed", file=sys.stderr)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def target_folders(run_dir: Path) -> list[Path]:
    if (run_dir / "history").is_dir():
        return [run_dir]
    found = sorted(path.parent for path in run_dir.glob("*/*/history") if path.is_dir())
    order_file = run_dir / "run.json"
    if order_file.exists():
        order = json.loads(order_file.read_text())
        names, targets = order.get("scenarios", []), order.get("targets", [])

        def position(path: Path) -> tuple[int, int]:
            scenario, target = path.parent.name, path.name
            return (
                names.index(scenario) if scenario in names else len(names),
                targets.index(target) if target in targets else len(targets),
            )

        found.sort(key=position)
    return found


def cmd_replay(args: argparse.Namespace) -> int:
    folders = target_folders(args.run_dir)
    if not folders:
        print(f"harness: no recorded history under {args.run_dir}", file=sys.stderr)
        return 2
    rows = [report.evaluate(folder) for folder in folders]
    if args.json:
        print(report.as_json(rows, replayed=str(args.run_dir)))
    else:
        print(report.table(rows))
        print(f"\n{report.LEGEND}")
        failed = report.failures(rows)
        if failed:
            print(failed)
    return report.exit_code(rows)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "run":
            return cmd_run(args)
        return cmd_replay(args)
    except ScenarioError as err:
        print(f"harness: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `harness replay RUN | head`: the reader left; say nothing more, exit like a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
