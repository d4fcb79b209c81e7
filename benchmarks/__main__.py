"""Run the benchmarks and print a table, then summary lines that scripts can read.

    python -m benchmarks            # the full run
    python -m benchmarks --quick    # a few minutes on a CPU
"""

from __future__ import annotations

import argparse
import platform

import torch

from benchmarks import dream_speed, memory, style_speed, train_dream_speed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    reps = 2 if args.quick else 5
    print(f"# inceptionism benchmarks on {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    rates = dream_speed.matmul_flops_per_s(device)
    matmul = max(rates.values())
    kind = "bf16" if device.type == "cuda" else "fp32"
    each = ", ".join(f"{lib} {rate / 1e9:.1f}" for lib, rate in rates.items())
    print(f"matmul throughput ({kind}): {matmul / 1e9:.1f} GFLOP/s, the best of: {each}\n")

    print("## dream step (ms), ours vs a plain port (full forward with hooks, fp32, NCHW)")
    print(f"{'model':<20}{'layer':<14}{'size':>6}{'plain ms':>11}{'ours ms':>10}{'speedup':>9}"
          f"{'GFLOP':>8}{'matmul frac':>13}")
    results = {}
    for name in ("efficientnet_lite0", "googlenet", "vgg16"):
        layer = dream_speed.default_layer(name)
        for size in (512, 1024):
            t = dream_speed.compare(name, layer, size, device, reps)
            frac = t.ours_flops / (t.ours_ms / 1000) / matmul
            results[(name, size)] = (t, frac)
            print(f"{name:<20}{layer:<14}{size:>6}{t.plain_ms:>11.1f}{t.ours_ms:>10.1f}{t.speedup:>9.2f}"
                  f"{t.ours_flops / 1e9:>8.1f}{frac:>13.2f}", flush=True)

    print("\n## peak memory of one tiled dream step (tile 512), efficientnet_lite0")
    sizes = (512, 1024, 2048) if args.quick else (512, 1024, 2048, 4096)
    for size in sizes:
        peak = memory.peak_memory(size, 512, device.type)
        print(f"{size:>5}x{size:<5} {peak / 2**20:>8.0f} MiB", flush=True)

    print("\n## style transfer")
    for size in (512, 1024) if args.quick else (512, 1024, 2048):
        ms = style_speed.stylize_ms(size, device)
        print(f"stylize {size}x{size}: {ms:8.1f} ms  ({size * size / 1e6 / (ms / 1000):.2f} megapixels/s)", flush=True)
    print(f"optimisation at 384 px: {style_speed.optimisation_its(384, device):.1f} iterations/s", flush=True)
    print(f"training (batch 4 x 256 px, 2 styles): {style_speed.training_steps_per_s(device):.2f} steps/s", flush=True)

    print("\n## train-dream (efficientnet_lite0, default fine-tuned blocks, 224 px, batches of 32)")
    step_rate = train_dream_speed.step_images_per_s(device)
    loop_rate = train_dream_speed.loop_images_per_s(device)
    print(f"training step alone: {step_rate:.1f} images/s", flush=True)
    print(f"with JPEGs read by 2 data workers: {loop_rate:.1f} images/s", flush=True)

    print()
    print(f"speedup_vs_plain: {results[('efficientnet_lite0', 1024)][0].speedup:.2f}")
    print(f"speedup_vs_plain_vgg16: {results[('vgg16', 1024)][0].speedup:.2f}")
    print(f"matmul_fraction: {results[('vgg16', 1024)][1]:.2f}")
    print(f"train_dream_images_per_s: {loop_rate:.1f}")


if __name__ == "__main__":
    main()
