"""Scale-out: does throughput grow with extractor replicas, and do two gateways lose nothing?

1. N = 1, 2, 4 extractor processes against the fake model with 1 s latency, each replica capped
   at 4 messages and 4 model calls at once (INVOICEFLOW_MAX_IN_FLIGHT=4,
   INVOICEFLOW_OPENAI_MAX_CONCURRENCY=4): the model call is the bottleneck, so the ideal is
   4 x N tasks/s. 24 x N tasks submitted at once (six rounds of model calls for every N, so the
   first and last round weigh alike in each ratio), followed on 10 /ws clients; throughput is
   the tasks completed over the time from the first submission to the last `complete`
   received. Each N gets its own stack, a warm-up, then `--repeat` measured runs (the median
   is reported), with the CPU every process of the stack, the fake model and the load
   generator used meanwhile (as a share of all cores) and the CPU time the hypervisor stole.
2. The same workload on two gateways (with the largest N): clients spread over both, each
   task submitted on the gateway its client is *not* connected to, so every update crosses
   from one gateway's submission to the other's socket: every task's updates must arrive,
   each once, contiguous.

    python -m bench.scaleout
    python -m bench.scaleout --replicas 1 2 --repeat 1

Figures: docs/benchmarks.md. JSON: bench/results/scaleout-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.pipeline import BENCH_CLIENT, cpu_used, machine, stack_cpu_seconds
from services.process import run
from testkit.drills import DrillPostgres, Rig
from testkit.load import Load
from testkit.model import FakeModel, fake_model

RESULTS = Path(__file__).resolve().parent / "results"
PER_REPLICA = 4  # messages and model calls one extractor replica takes at once
CAPPED = {
    "INVOICEFLOW_MAX_IN_FLIGHT": str(PER_REPLICA),
    "INVOICEFLOW_OPENAI_MAX_CONCURRENCY": str(PER_REPLICA),
}
AT_ONCE = 10_000.0  # submissions per second: as fast as the load generator goes


@dataclass
class Measured:
    extractors: int
    gateways: int
    tasks: int
    completed: int
    wall_seconds: float
    tasks_per_second: float
    not_completed: int
    gaps: int
    doubles: int
    crossed: int  # submitted on a gateway other than the one its client was connected to
    cpu_share: float  # CPU of the stack, model and load generator / (wall x cores)
    steal_share: float  # CPU time the hypervisor took from this VM meanwhile (noise)


@dataclass
class Summary:
    extractors: int
    gateways: int
    ideal_tasks_per_second: float
    tasks_per_second: float  # median of the runs
    runs: list[Measured]
    ratio_to_one: float | None = None  # against N = 1 on one gateway


def host(url: str | None) -> str:
    return "" if url is None else url.split("://", 1)[-1].split("/", 1)[0]


async def measure(
    rig: Rig,
    tasks: int,
    tag: str,
    *,
    crossing: bool,
    pids: dict[str, int],
    deadline: float = 300.0,
) -> Measured:
    async with Load(
        rig.stack.gateway_urls,
        tasks=tasks,
        rate=AT_ONCE,
        sockets=10,
        tag=tag,
        on_other_gateway=crossing,
    ) as load:
        cpu_before, times_before = stack_cpu_seconds(pids), psutil.cpu_times()
        started = time.time()
        await load.run()
        await load.settled(deadline)
        cpu = sum(cpu_used(cpu_before, stack_cpu_seconds(pids)).values())
        steal = _steal_share(times_before, psutil.cpu_times())
    traces = list(load.traces.values())
    ends = [t.terminal_received_at or 0.0 for t in traces if t.terminal == "complete"]
    wall = max(ends, default=started) - started
    return Measured(
        extractors=len(rig.stack.replica_names("extractor")),
        gateways=len(rig.stack.gateway_urls),
        tasks=tasks,
        completed=len(ends),
        wall_seconds=wall,
        tasks_per_second=len(ends) / wall if wall else 0.0,
        not_completed=tasks - len(ends),
        gaps=sum(t.gaps for t in traces),
        doubles=sum(t.doubles for t in traces),
        crossed=sum(1 for t in traces if host(t.submitted_via) != host(t.followed_via)),
        cpu_share=cpu / (max(wall, 1e-9) * (psutil.cpu_count() or 1)),
        steal_share=steal,
    )


def _steal_share(before: Any, after: Any) -> float:
    total = sum(after) - sum(before)
    stolen = getattr(after, "steal", 0.0) - getattr(before, "steal", 0.0)
    return stolen / total if total > 0 else 0.0


async def series(
    args: argparse.Namespace,
    postgres: DrillPostgres,
    model: FakeModel,
    workdir: Path,
    *,
    extractors: int,
    gateways: int = 1,
) -> Summary:
    rig = Rig(
        workdir / f"x{extractors}-g{gateways}",
        postgres,
        model.url,
        replicas={"extractor": extractors, "gateway": gateways},
        service_envs={"extractor": CAPPED},
        env={"INVOICEFLOW_LOG_LEVEL": "INFO"},
    )
    crossing = gateways > 1
    tasks = args.tasks or args.rounds * PER_REPLICA * extractors
    async with rig:
        pids = {name: proc.pid for name, proc in rig.stack.procs.items()}
        pids |= {"nats-server" + (f" {i}" if i else ""): pid for i, pid in enumerate(rig.nats.pids)}
        pids |= {"postgres": postgres.server.pid}
        pids |= {"(model)": model.pid, BENCH_CLIENT: os.getpid()}
        # Warm-up: first calls pay for imports, connections and the fake model's first answers.
        await measure(rig, PER_REPLICA * extractors, "warm-up", crossing=crossing, pids=pids)
        runs = [
            await measure(rig, tasks, f"x{extractors} run {i}", crossing=crossing, pids=pids)
            for i in range(args.repeat)
        ]
    for measured in runs:
        print(
            f"  {extractors} extractor(s), {gateways} gateway(s): {measured.completed}/"
            f"{measured.tasks} in {measured.wall_seconds:.2f} s = "
            f"{measured.tasks_per_second:.2f} tasks/s; gaps {measured.gaps}, doubles "
            f"{measured.doubles}, crossed {measured.crossed}; CPU {measured.cpu_share:.0%} "
            f"of the cores, steal {measured.steal_share:.0%}",
            flush=True,
        )
    return Summary(
        extractors=extractors,
        gateways=gateways,
        ideal_tasks_per_second=extractors * PER_REPLICA / args.latency,
        tasks_per_second=statistics.median(m.tasks_per_second for m in runs),
        runs=runs,
    )


async def scaleout(args: argparse.Namespace, workdir: Path) -> list[Summary]:
    postgres = DrillPostgres(workdir / "postgres").start()
    summaries: list[Summary] = []
    try:
        with fake_model(args.latency) as model:
            for extractors in args.replicas:
                summaries.append(
                    await series(args, postgres, model, workdir, extractors=extractors)
                )
            summaries.append(
                await series(
                    args, postgres, model, workdir, extractors=max(args.replicas), gateways=2
                )
            )
    finally:
        postgres.close()
    one = next((s for s in summaries if s.extractors == 1 and s.gateways == 1), None)
    for summary in summaries:
        if one is not None and one.tasks_per_second:
            summary.ratio_to_one = summary.tasks_per_second / one.tasks_per_second
    return summaries


def report(summaries: list[Summary], args: argparse.Namespace) -> Path:
    print(
        f"\nmachine: {machine()}; {args.tasks or f'{args.rounds * PER_REPLICA} x N'} tasks at "
        f"once, model {args.latency:g} s, "
        f"{PER_REPLICA} in flight per extractor, median of {args.repeat}"
    )
    print("| extractors | gateways | tasks | ideal tasks/s | tasks/s (runs) | ratio to N=1 | "
          "target | CPU (steal) | lost / gaps / doubles |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        runs = ", ".join(f"{m.tasks_per_second:.2f}" for m in s.runs)
        ratio = "–" if s.ratio_to_one is None else f"{s.ratio_to_one:.2f}"
        target = (
            "–"
            if s.ratio_to_one is None
            else ("met" if s.ratio_to_one >= 0.9 * s.extractors else "NOT met")
        )
        faults = "/".join(
            str(sum(getattr(m, name) for m in s.runs))
            for name in ("not_completed", "gaps", "doubles")
        )
        cpu = statistics.median(m.cpu_share for m in s.runs)
        steal = statistics.median(m.steal_share for m in s.runs)
        print(
            f"| {s.extractors} | {s.gateways} | {s.runs[0].tasks} | "
            f"{s.ideal_tasks_per_second:g} | {s.tasks_per_second:.2f} ({runs}) | {ratio} | "
            f"{target} | {cpu:.0%} ({steal:.0%}) | {faults} |"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scaleout-{time.strftime('%Y%m%dT%H%M%S')}.json"
    data = {
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "tasks": args.tasks or f"{args.rounds * PER_REPLICA} x N",
        "latency": args.latency,
        "per_replica": PER_REPLICA,
        "summaries": [asdict(s) for s in summaries],
    }
    out.write_text(json.dumps(data, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--rounds", type=int, default=6, help="tasks per run = rounds x 4 x N (default 6)"
    )
    parser.add_argument("--tasks", type=int, help="a fixed number of tasks per run instead")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per stack")
    parser.add_argument("--latency", type=float, default=1.0, help="fake model, seconds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="invoiceflow-scaleout-") as tmp:
        summaries = run(scaleout(args, Path(tmp)))
    print(f"written to {report(summaries, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
