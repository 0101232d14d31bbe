"""Fault drills against the whole stack: what a crash, an outage or a restart does to 300 tasks.

Per scenario: a nats-server and a database of its own (one PostgreSQL for the run), the four
services as processes (two replicas of each where the scenario needs them), the fake
OpenAI-compatible model as its own process. 10 /ws clients follow the tasks (each joins after
the trigger returned and, when its socket drops, reconnects and resumes with after_seq) while
the tasks are submitted at a steady rate through the public API; the fault lands once a quarter
of them were accepted. Then every task gets a generous deadline to end, and the drill counts:
submitted, completed, failed by code, stuck, saved rows per task (0/1/>1), client gaps and
doubles, the time to recover, and each task's longest wait for its first update.

    python -m bench.chaos                                  # every scenario, 300 tasks each
    python -m bench.chaos --tasks 100 --scenario worker-kill gateway-kill
    python -m bench.chaos --nats-cluster 3 --scenario cluster-node-kill

Figures and what each counts: docs/reliability.md. JSON: bench/results/chaos-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pipeline import machine
from services.process import run
from testkit.drills import (
    SCENARIOS,
    DrillPostgres,
    DrillResult,
    DrillSettings,
    Rig,
    Scenario,
    run_drill,
)
from testkit.model import fake_model

RESULTS = Path(__file__).resolve().parent / "results"
HEADER = (
    "scenario",
    "submitted",
    "completed",
    "failed",
    "stuck",
    "undelivered",
    "rows 0/1/>1",
    "gaps",
    "doubles",
    "reconnects",
    "recover s",
    "settle s",
    "1st update max s",
    "silence max s",
    "wall s",
    "verdict",
)


def verdict(result: DrillResult, outage: bool) -> str:
    """ok: nothing lost, saved twice, missed or repeated; and, in an outage, nothing failed."""
    broken = [
        name
        for name, count in (
            ("lost", result.lost),
            ("duplicated", result.duplicated),
            ("undelivered", result.undelivered),
            ("gaps", result.gaps),
            ("doubles", result.doubles),
            ("not submitted", result.submit_errors),
        )
        if count
    ]
    if outage and result.failed_total:
        broken.append("failed")
    return "ok" if not broken else "NOT OK: " + ", ".join(broken)


def seconds(value: float | None, missing: str) -> str:
    return missing if value is None else f"{value:.1f}"


def row(result: DrillResult, outage: bool) -> list[str]:
    failed = ", ".join(f"{code} {n}" for code, n in sorted(result.failed.items())) or "0"
    rows = result.rows
    return [
        result.scenario,
        str(result.submitted),
        str(result.completed),
        failed,
        str(result.stuck),
        str(result.undelivered),
        f"{rows['0']}/{rows['1']}/{rows['>1']}",
        str(result.gaps),
        str(result.doubles),
        str(result.reconnects),
        seconds(result.recovery_seconds, "–"),  # nothing completed after the fault
        seconds(result.settle_seconds, "never"),
        f"{result.max_first_update_wait:.1f}",
        f"{result.max_silence:.1f}",
        f"{result.wall_seconds:.0f}",
        verdict(result, outage),
    ]


def table(rows: list[list[str]]) -> str:
    """A Markdown table (pasted as it is into docs/reliability.md)."""
    lines = [HEADER, tuple("---" for _ in HEADER), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


async def drills(args: argparse.Namespace, workdir: Path) -> list[tuple[Scenario, DrillResult]]:
    settings = DrillSettings(
        tasks=args.tasks,
        rate=args.rate,
        sockets=args.sockets,
        deadline_seconds=args.deadline,
        seed=args.seed,
    )
    done: list[tuple[Scenario, DrillResult]] = []
    postgres = DrillPostgres(workdir / "postgres").start()
    try:
        with fake_model(args.model_latency) as model:
            for name in args.scenario:
                scenario = SCENARIOS[name]
                if scenario.requires and not args.nats_cluster:
                    print(f"{name}: skipped, needs {scenario.requires} ({scenario.summary})")
                    continue
                print(f"{name}: {scenario.summary}", flush=True)
                rig = Rig(
                    workdir / name,
                    postgres,
                    model.url,
                    replicas=scenario.replicas,
                    nats_cluster=args.nats_cluster,
                )
                async with rig:
                    result = await run_drill(rig, scenario, settings)
                print("  " + " | ".join(row(result, scenario.outage)), flush=True)
                done.append((scenario, result))
    finally:
        postgres.close()
    return done


def report(done: list[tuple[Scenario, DrillResult]], args: argparse.Namespace) -> Path:
    print(f"\nmachine: {machine()}; {args.tasks} tasks per scenario, {args.sockets} sockets")
    print(table([row(result, scenario.outage) for scenario, result in done]))
    for scenario, result in done:
        faults = "; ".join(f"{f.action} ({f.seconds:.1f} s)" for f in result.faults)
        print(f"{scenario.name}: {faults}")
        for error in result.errors[:3]:
            print(f"  submit error: {error}")
    data: dict[str, Any] = {
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "arguments": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        },
        "results": [
            result.as_json()
            | {"outage": scenario.outage, "verdict": verdict(result, scenario.outage)}
            for scenario, result in done
        ],
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"chaos-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(data, indent=2))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=300, help="tasks per scenario")
    parser.add_argument(
        "--scenario",
        nargs="+",
        action="extend",
        choices=list(SCENARIOS),
        help="scenarios to run (default: every one this setup can run)",
    )
    parser.add_argument("--rate", type=float, help="submissions per second (default: per scenario)")
    parser.add_argument("--sockets", type=int, default=10, help="/ws clients")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds for tasks to end")
    parser.add_argument("--model-latency", type=float, default=0.3, help="fake model, seconds")
    parser.add_argument("--seed", type=int, help="which replicas the kills pick")
    parser.add_argument("--workdir", type=Path, help="keep the servers' data and logs here")
    parser.add_argument(
        "--nats-cluster",
        type=int,
        metavar="NODES",
        help="run every scenario on a JetStream cluster of NODES nodes, streams replicated on "
        "all of them (cluster-node-kill needs it)",
    )
    args = parser.parse_args(argv)
    if args.nats_cluster is not None and args.nats_cluster < 3:
        parser.error("--nats-cluster: a JetStream cluster that survives a node needs 3 or more")
    args.scenario = args.scenario or [
        n for n, s in SCENARIOS.items() if args.nats_cluster or not s.requires
    ]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        done = run(drills(args, args.workdir.resolve()))
    else:
        with tempfile.TemporaryDirectory(prefix="invoiceflow-chaos-") as tmp:
            done = run(drills(args, Path(tmp)))
    print(f"written to {report(done, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
