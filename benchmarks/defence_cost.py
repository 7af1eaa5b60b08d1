"""Cost of each defence relative to baseline: time per training step and peak memory, one run.

Every variant trains the same model on the same random batch, as the median over ``--repeats``
steps after ``--warmup`` steps; ratios are against the baseline of the same run and precision. On the
CPU each variant runs in its own subprocess (so the peak resident memory belongs to that variant
alone); on CUDA all run in one process, the peak memory reset between variants, with
``cudnn.benchmark`` on as in training (``--no-cudnn-benchmark`` to see its effect).

The commands that wrote the committed records (``data/results/``):

    python benchmarks/defence_cost.py --models small-cnn --batch 32 --warmup 5 --repeats 30 --device cpu --out data/results/defence_cost_cpu.json
    python benchmarks/defence_cost.py --models fast-cnn --batch 256 --repeats 5 --device cpu --out data/results/defence_cost_cpu_fast.json
    python benchmarks/defence_cost.py --models resnet34 resnext34 --variants baseline --batch 128 --warmup 1 --repeats 3 \
        --device cpu --out data/results/cpu_step_paper_models.json
    python benchmarks/defence_cost.py --models resnet34 resnext34 --batch 128 --device cuda --precision fp32 bf16 \
        --variants tanh at-l2 lip lip-fd gradnorm fd tulip tulip-fd --warmup 3 --repeats 10 --out data/results/defence_cost_cuda.json
    python benchmarks/defence_cost.py --models fast-cnn small-cnn --batch 256 --device cuda --precision fp32 bf16 \
        --warmup 3 --repeats 20 --out data/results/defence_cost_cuda_fast.json
    python benchmarks/defence_cost.py --models resnext34 --variants lip tulip lip-fd tulip-fd --no-cudnn-benchmark --batch 128 \
        --device cuda --warmup 3 --repeats 10 --out data/results/defence_cost_cuda_no_cudnn_benchmark.json
    for run in 1 2; do for off in "" --no-cudnn-benchmark; do   # the autotuner's pairs chapter 9 compares run to run
        python benchmarks/defence_cost.py --models resnext34 --variants lip lip-fd tulip tulip-fd $off --batch 128 --device cuda \
            --warmup 3 --repeats 10 --out data/results/cudnn_autotuner_run$run${off:+_off}.json; done; done

Records written since carry the command itself (``command``) and the variants measured (``settings.variants``).

``--precision bf16`` is bf16 autocast with the channels-last memory format (the pair that pays on
tensor cores); ``--channels-last`` adds the format to fp32 too.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from lipreg_lib import arguments
from lipreg_lib.compare import COST_VARIANTS as VARIANTS
from lipreg_lib.defences import make_defence
from lipreg_lib.models import MODELS, build
from lipreg_lib.runio import provenance, resolve_device, write_json
from lipreg_lib.train.step import cudnn_autotuning, training_step

TARGETS = {"lip": 2.5, "lip-fd": 2.5, "tulip": 3.0, "tulip-fd": 3.0, "fd": 2.0, "tanh": 1.05}  # issue 12's targets, for both forms of each defence
INPUTS = {"small-cnn": (1, 28, 28), "mlp": (1, 28, 28)}
CHANNELS_LAST = {"fast-cnn"}  # as its recipe trains it


def _resident_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def prepare(model_name: str, variant: str, batch: int, device: str, precision: str, channels_last: bool):
    """``(step, device)``: one training step of ``variant`` on ``model_name`` and a fixed random batch;
    ``precision`` bf16 is bf16 autocast with the channels-last format, fp32 takes ``channels_last`` as given."""
    bf16 = precision == "bf16"
    channels_last = channels_last or bf16
    _, spec, tanh = VARIANTS[variant]
    torch_device = resolve_device(device)
    shape = INPUTS.get(model_name, (3, 32, 32))
    torch.manual_seed(0)
    model = build(model_name, 10, shape, tanh_head=tanh).to(torch_device).train()
    objective = make_defence(spec, eps=0.01, lam=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(batch, *shape, device=torch_device)
    y = torch.randint(0, 10, (batch,), device=torch_device)
    if channels_last or model_name in CHANNELS_LAST:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(torch_device.type, dtype=torch.bfloat16, enabled=bf16)

    def step() -> None:
        training_step(objective, model, optimizer, x, y, autocast)

    return step, torch_device


def measure(model_name: str, variant: str, batch: int, device: str, precision: str, channels_last: bool, warmup: int,
            repeats: int) -> dict:
    """Seconds per step (median) and peak memory (MiB) of one variant."""
    resident_before = _resident_mib()
    step, torch_device = prepare(model_name, variant, batch, device, precision, channels_last)
    for _ in range(warmup):
        step()
    if torch_device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        if torch_device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if torch_device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:  # the process's high-water mark (KiB on Linux) above its resident size before the first step
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - resident_before
    return {"seconds": statistics.median(times), "peak_mib": peak}


def profile(model_name: str, variant: str, batch: int, device: str, precision: str, channels_last: bool, warmup: int,
            repeats: int, rows: int = 12) -> str:
    """Where one variant's step spends its time: torch.profiler's operators by self time over ``repeats`` steps."""
    step, torch_device = prepare(model_name, variant, batch, device, precision, channels_last)
    for _ in range(warmup):
        step()
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if torch_device.type == "cuda" else [])
    with torch.profiler.profile(activities=activities) as profiler:
        for _ in range(repeats):
            step()
        if torch_device.type == "cuda":
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if torch_device.type == "cuda" else "self_cpu_time_total"
    return profiler.key_averages().table(sort_by=key, row_limit=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=["small-cnn", "resnext34"], metavar="MODEL",
                        help=f"among {', '.join(MODELS)}")
    parser.add_argument("--batch", type=arguments.integer("--batch"), default=32)
    parser.add_argument("--device", type=arguments.device(), default="cpu")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32"],
                        help="bf16: autocast to bfloat16 and channels-last; each measured against its own baseline")
    parser.add_argument("--channels-last", action="store_true", help="channels-last memory format for every model")
    parser.add_argument("--cudnn-benchmark", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="VARIANT",
                        help=f"ids among {', '.join(VARIANTS)}; baseline is always measured")
    parser.add_argument("--warmup", type=arguments.integer("--warmup", 0), default=2)
    parser.add_argument("--repeats", type=arguments.integer("--repeats"), default=7)
    parser.add_argument("--out", type=arguments.writable_file("--out"), default="data/results/defence_cost_cpu.json")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    parser.add_argument("--profile", nargs=2, metavar=("MODEL", "VARIANT"),
                        help="print where one variant's step spends its time (torch.profiler, top operators) and exit")
    args = parser.parse_args()
    args.device = str(resolve_device(args.device))   # recorded as resolved: "auto" would not say a GPU ran it
    if args.profile:
        model_name, variant = args.profile
        if model_name not in MODELS or variant not in VARIANTS:
            parser.error(f"--profile {model_name} {variant}: the model is one of {', '.join(MODELS)}, the variant one of {', '.join(VARIANTS)}")
        if len(args.precision) > 1:
            parser.error(f"--profile measures one precision, got --precision {' '.join(args.precision)}")
    with cudnn_autotuning(resolve_device(args.device), args.cudnn_benchmark):
        run(args)


def run(args: argparse.Namespace) -> None:
    """Measure every model × precision × variant of ``args``; print the table and write the JSON."""
    options = (args.batch, args.device, args.precision[0], args.channels_last, args.warmup, args.repeats)
    if args.profile:
        print(profile(*args.profile, *options))
        return
    if args.one:
        print(json.dumps(measure(*args.one, *options)))
        return

    rows = []
    variants = ["baseline"] + [v for v in args.variants if v != "baseline"]
    for precision in args.precision:
        for model_name in args.models:
            for variant in variants:
                if resolve_device(args.device).type == "cuda":
                    result = measure(model_name, variant, args.batch, args.device, precision, args.channels_last, args.warmup,
                                     args.repeats)
                else:
                    command = [sys.executable, __file__, "--one", model_name, variant, "--batch", str(args.batch), "--device",
                               args.device, "--warmup", str(args.warmup), "--repeats", str(args.repeats), "--precision", precision]
                    command += ["--channels-last"] * args.channels_last
                    child = subprocess.run(command, capture_output=True, text=True)
                    if child.returncode != 0:   # the child's own message, not only its exit status
                        raise SystemExit(f"measuring {model_name} {precision} {variant} failed (exit {child.returncode}):\n{child.stderr.strip()}")
                    result = json.loads(child.stdout.strip().splitlines()[-1])
                rows.append({"model": model_name, "precision": precision, "id": variant, "variant": VARIANTS[variant][0], **result})
                print(f"  measured {model_name:10s} {precision} {variant:10s} {result['seconds'] * 1000:9.1f} ms", file=sys.stderr)
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["precision"] == row["precision"] and r["id"] == "baseline")
        row["time_ratio"] = row["seconds"] / base["seconds"]
        row["memory_ratio"] = row["peak_mib"] / base["peak_mib"]
        row["target"] = TARGETS.get(row["id"])
        row["meets_target"] = None if row["target"] is None else row["time_ratio"] <= row["target"]

    memory = "peak GPU MiB" if args.device.startswith("cuda") else "step RSS MiB"
    print(f"| model | precision | variant | ms/step | × baseline | target | {memory} | × baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        target = "" if row["target"] is None else f"≤ {row['target']}" + (" ✓" if row["meets_target"] else " ✗")
        print(f"| {row['model']} | {row['precision']} | {row['variant']} | {row['seconds'] * 1000:.1f} | {row['time_ratio']:.2f} | {target} | "
              f"{row['peak_mib']:.0f} | {row['memory_ratio']:.2f} |")
    settings = {k: getattr(args, k) for k in ("models", "precision", "variants", "batch", "device", "channels_last", "cudnn_benchmark",
                                              "warmup", "repeats")}
    write_json(args.out, {"settings": settings, "command": sys.argv, "provenance": provenance(resolve_device(args.device)), "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
