"""Cost of each defence relative to baseline: time per training step and peak memory, one run.

Every variant trains the same model on the same random batch; each is measured in its own
subprocess (so the CPU peak resident memory belongs to that variant alone), as the median over
``--repeats`` steps after ``--warmup`` steps. Ratios are against the baseline of the same run.

    python benchmarks/defence_cost.py --models small-cnn resnext34 --batch 32 --device cpu
    python benchmarks/defence_cost.py --models fast-cnn --batch 256 --device cpu --out data/results/defence_cost_cpu_fast.json
    python benchmarks/defence_cost.py --models resnext34 --batch 128 --device cuda --bf16
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from lipreg_lib.defences import make_defence
from lipreg_lib.models import build
from lipreg_lib.train import provenance, resolve_device, write_json
from lipreg_lib.train.step import training_step

VARIANTS = {  # name: (defence spec, tanh head)
    "baseline": ("baseline", False),
    "tanh head": ("baseline", True),
    "AT-FGSM": ("at-fgsm", False),
    "AT-L2": ("at-l2", False),
    "Lipschitz penalty": ("lip", False),
    "Lipschitz penalty, finite diff. (lip-fd)": ("lip-fd", False),
    "gradient norm": ("gradnorm", False),
    "finite difference (fd)": ("fd", False),
    "tulip": ("tulip", False),
    "tulip, finite diff. (tulip-fd)": ("tulip-fd", False),
    "tanh + tulip": ("tulip", True),
}
TARGETS = {"Lipschitz penalty": 2.5, "Lipschitz penalty, finite diff. (lip-fd)": 2.5, "tulip": 3.0, "tulip, finite diff. (tulip-fd)": 3.0,
           "finite difference (fd)": 2.0, "tanh head": 1.05}  # issue 12's targets, for both forms of each defence
INPUTS = {"small-cnn": (1, 28, 28), "mlp": (1, 28, 28)}
CHANNELS_LAST = {"fast-cnn"}  # as its recipe trains it


def _resident_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def measure(model_name: str, variant: str, batch: int, device: str, bf16: bool, warmup: int, repeats: int) -> dict:
    """Seconds per step (median) and peak memory (MiB) of one variant."""
    spec, tanh = VARIANTS[variant]
    torch_device = resolve_device(device)
    shape = INPUTS.get(model_name, (3, 32, 32))
    torch.manual_seed(0)
    model = build(model_name, 10, shape, tanh_head=tanh).to(torch_device).train()
    objective = make_defence(spec, eps=0.01, lam=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(batch, *shape, device=torch_device)
    y = torch.randint(0, 10, (batch,), device=torch_device)
    if model_name in CHANNELS_LAST:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(torch_device.type, dtype=torch.bfloat16, enabled=bf16)

    def step() -> None:
        training_step(objective, model, optimizer, x, y, autocast)

    resident_before = _resident_mib()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["small-cnn", "resnext34"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data/results/defence_cost_cpu.json"))
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one, args.batch, args.device, args.bf16, args.warmup, args.repeats)))
        return

    rows = []
    for model_name in args.models:
        for variant in VARIANTS:
            command = [sys.executable, __file__, "--one", model_name, variant, "--batch", str(args.batch), "--device", args.device,
                       "--warmup", str(args.warmup), "--repeats", str(args.repeats)] + (["--bf16"] if args.bf16 else [])
            result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            rows.append({"model": model_name, "variant": variant, **result})
            print(f"  measured {model_name:10s} {variant:18s} {result['seconds'] * 1000:9.1f} ms", file=sys.stderr)
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["variant"] == "baseline")
        row["time_ratio"] = row["seconds"] / base["seconds"]
        row["memory_ratio"] = row["peak_mib"] / base["peak_mib"]
        row["target"] = TARGETS.get(row["variant"])
        row["meets_target"] = None if row["target"] is None else row["time_ratio"] <= row["target"]

    memory = "peak GPU MiB" if args.device.startswith("cuda") else "step RSS MiB"
    print(f"| model | variant | ms/step | × baseline | target | {memory} | × baseline |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        target = "" if row["target"] is None else f"≤ {row['target']}" + (" ✓" if row["meets_target"] else " ✗")
        print(f"| {row['model']} | {row['variant']} | {row['seconds'] * 1000:.1f} | {row['time_ratio']:.2f} | {target} | "
              f"{row['peak_mib']:.0f} | {row['memory_ratio']:.2f} |")
    settings = {k: getattr(args, k) for k in ("models", "batch", "device", "bf16", "warmup", "repeats")}
    write_json(args.out, {"settings": settings, "provenance": provenance(resolve_device(args.device)), "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
