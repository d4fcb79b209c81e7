"""Run the benchmarks and print a table, then summary lines that scripts can read.

    python -m benchmarks            # the full run
    python -m benchmarks --quick    # a few minutes on a CPU
"""

from __future__ import annotations

import argparse
import platform

import torch

from benchmarks import dream_speed, memory, style_speed, train_dream_speed
from inceptionism.precision import autocast_dtype, cpu_has_bf16, resolve_precision


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

    auto_dtype = autocast_dtype("auto", device)
    rates = dream_speed.matmul_flops_per_s(device, dtype=auto_dtype or torch.float32)
    matmul = max(rates.values())
    kind = "bf16" if auto_dtype is not None else "fp32"
    each = ", ".join(f"{lib} {rate / 1e9:.1f}" for lib, rate in rates.items())
    print(f"matmul throughput ({kind}): {matmul / 1e9:.1f} GFLOP/s, the best of: {each}\n")

    auto = resolve_precision("auto", device)
    print(f"--precision auto means {auto} here" + ("" if device.type != "cpu" else
          f" (CPU bfloat16 instructions: {'yes' if cpu_has_bf16() else 'no'})"))
    print("\n## dream step (ms), ours (float32, and at --precision auto) vs a plain port (full forward with hooks, "
          "fp32, NCHW)")
    print(f"{'model':<20}{'layer':<14}{'size':>6}{'plain ms':>10}{'ours fp32':>11}{'ours auto':>11}"
          f"{'x plain':>9}{'x fp32':>8}{'GFLOP':>8}{'matmul frac':>13}")
    results = {}
    for name in ("efficientnet_lite0", "googlenet", "vgg16"):
        layer = dream_speed.default_layer(name)
        for size in (512, 1024):
            t = dream_speed.compare(name, layer, size, device, reps)
            frac = t.ours_flops / (t.ours_ms / 1000) / matmul
            results[(name, size)] = (t, frac)
            print(f"{name:<20}{layer:<14}{size:>6}{t.plain_ms:>10.1f}{t.fp32_ms:>11.1f}{t.ours_ms:>11.1f}"
                  f"{t.speedup:>9.2f}{t.fp32_ms / t.ours_ms:>8.2f}{t.ours_flops / 1e9:>8.1f}{frac:>13.2f}", flush=True)

    print("\n## peak memory of one tiled dream step (tile 512), efficientnet_lite0")
    sizes = (512, 1024, 2048) if args.quick else (512, 1024, 2048, 4096)
    for size in sizes:
        peak = memory.peak_memory(size, 512, device.type)
        print(f"{size:>5}x{size:<5} {peak / 2**20:>8.0f} MiB", flush=True)

    print(f"\n## style transfer (float32, then --precision auto = {auto})")
    stylize = {}
    for size in ((768, 1024), (1024, 1024)) if args.quick else ((768, 1024), (1024, 1024), (2048, 2048)):
        ms = {p: style_speed.stylize_ms(size, device, precision=p) for p in ("fp32", "auto")}
        stylize[size] = ms
        mp = size[0] * size[1] / 1e6
        print(f"our own network (train-style --init scratch, width 32), {size[1]}x{size[0]}: fp32 {ms['fp32']:8.1f} ms, auto {ms['auto']:8.1f} ms "
              f"({mp / (ms['auto'] / 1000):.2f} megapixels/s, x{ms['fp32'] / ms['auto']:.2f})", flush=True)
    shipped = {p: style_speed.shipped_ms((768, 1024), device, precision=p) for p in ("fp32", "auto")}
    print(f"stylize 1024x768 with the network that ships (--style-index 0): fp32 {shipped['fp32']:.0f} ms, "
          f"auto {shipped['auto']:.0f} ms", flush=True)
    arbitrary = {(p, s): style_speed.arbitrary_ms((768, 1024), device, precision=p, stroke_scale=s)
                 for p in ("fp32", "auto") for s in (1.0, 2.0)}
    print(f"stylize 1024x768 with any painting (Magenta's arbitrary network, full size): "
          f"fp32 {arbitrary[('fp32', 1.0)]:.0f} ms, auto {arbitrary[('auto', 1.0)]:.0f} ms; "
          f"with --stroke-scale 2 (auto for this size): fp32 {arbitrary[('fp32', 2.0)]:.0f} ms, "
          f"auto {arbitrary[('auto', 2.0)]:.0f} ms", flush=True)
    its = {p: style_speed.optimisation_its(384, device, precision=p) for p in ("fp32", "auto")}
    print(f"optimisation at 384 px: fp32 {its['fp32']:.1f}, auto {its['auto']:.1f} iterations/s "
          f"(x{its['auto'] / its['fp32']:.2f})", flush=True)
    train = {p: style_speed.training_steps_per_s(device, precision=p) for p in ("fp32", "auto")}
    print(f"train-style (batch 4 x 256 px, 2 styles): fp32 {train['fp32']:.2f}, auto {train['auto']:.2f} steps/s "
          f"(x{train['auto'] / train['fp32']:.2f})", flush=True)

    print("\n## train-dream (efficientnet_lite0, default fine-tuned blocks, 224 px, batches of 32)")
    step_rate = {p: train_dream_speed.step_images_per_s(device, precision=p) for p in ("fp32", "auto")}
    loop_rate = train_dream_speed.loop_images_per_s(device, precision="auto")
    print(f"training step alone: fp32 {step_rate['fp32']:.1f}, auto {step_rate['auto']:.1f} images/s "
          f"(x{step_rate['auto'] / step_rate['fp32']:.2f})", flush=True)
    print(f"with JPEGs read by 2 data workers (auto): {loop_rate:.1f} images/s", flush=True)

    print()
    print(f"precision_auto: {auto}")
    print(f"speedup_vs_plain: {results[('efficientnet_lite0', 1024)][0].speedup:.2f}")
    print(f"speedup_vs_plain_vgg16: {results[('vgg16', 1024)][0].speedup:.2f}")
    print(f"speedup_vs_plain_vgg16_512: {results[('vgg16', 512)][0].speedup:.2f}")
    print(f"speedup_vs_plain_googlenet: {results[('googlenet', 1024)][0].speedup:.2f}")
    print(f"matmul_fraction: {results[('vgg16', 1024)][1]:.2f}")
    print(f"stylize_1024x768_ms: {shipped['auto']:.0f}")
    print(f"arbitrary_1024x768_ms: {arbitrary[('auto', 1.0)]:.0f}")
    print(f"arbitrary_1024x768_stroke2_ms: {arbitrary[('auto', 2.0)]:.0f}")
    print(f"gatys_384_its_vs_fp32: {its['auto'] / its['fp32']:.2f}")
    print(f"train_style_steps_vs_fp32: {train['auto'] / train['fp32']:.2f}")
    print(f"train_dream_step_vs_fp32: {step_rate['auto'] / step_rate['fp32']:.2f}")
    print(f"train_dream_images_per_s: {loop_rate:.1f}")

if __name__ == "__main__":
    main()
