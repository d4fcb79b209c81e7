"""Many images on Ray against the sequential run, on this machine, side by side.

    python -m benchmarks.cluster                 # 12 images of 512 px
    python -m benchmarks.cluster --images 24 --size 512 --workers 1,2

The same dream job runs (1) in this process, one image after the other, with
all of torch's threads, then (2) on a local Ray with 1 and 2 workers (one CPU,
one thread each). Figures: images/s of each, and Ray's overhead: starting Ray,
and starting the workers (importing torch, loading the network) until the first
result. Every run's outputs are compared with the sequential ones at the same
thread count (bit for bit, or says how many differ).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time

import torch

from inceptionism.dream import DreamConfig
from inceptionism.io.images import encode_image, load_image
from inceptionism.jobs import DreamJob

SOURCES = ("chelsea", "coffee", "astronaut", "rocket", "hubble_deep_field", "immunohistochemistry")


def images(count: int, size: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        rgb = load_image(f"skimage:{SOURCES[i % len(SOURCES)]}").rgb
        rgb = torch.nn.functional.interpolate(rgb, size=(size, size), mode="bilinear", antialias=True)
        if i >= len(SOURCES):
            rgb = rgb.flip(-1)  # another image, the same size
        out.append((f"img{i:02d}.png", encode_image(rgb, "PNG")))
    return out


def sequential(job: DreamJob, items: list[tuple[str, bytes]], threads: int) -> tuple[float, dict[str, str]]:
    torch.set_num_threads(threads)
    runner = job.setup()
    started = time.perf_counter()
    digests = {key: hashlib.sha256(runner.run(key, (key, data, "PNG"))).hexdigest() for key, data in items}
    return time.perf_counter() - started, digests


def on_ray(job: DreamJob, items: list[tuple[str, bytes]], workers: int, connection) -> tuple[float, float, dict]:
    from inceptionism import cluster

    digests: dict[str, str] = {}
    started = time.perf_counter()
    summary = cluster.run_items(job, [(k, (lambda k=k, d=d: (k, d, "PNG"))) for k, d in items],
                                lambda status, key, value: digests.__setitem__(key, hashlib.sha256(value).hexdigest()
                                                                               if status == "ok" else value),
                                connection=connection, workers=workers, cpus_per_worker=1)
    return time.perf_counter() - started, summary.startup_s, digests


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    items = images(args.images, args.size)
    job = DreamJob(model=None, weights=None, layers=None, guide=None, class_value=None, topic=None, word=None,
                   config=DreamConfig(steps=args.steps, octaves=3), device="cpu")
    cores = torch.get_num_threads()
    print(f"# {args.images} images of {args.size} px, dream of {args.steps} steps x 3 octaves, {cores} threads here")
    t_all, seq_all = sequential(job, items, cores)
    print(f"sequential, {cores} threads:      {t_all:7.1f} s  {args.images / t_all:6.3f} images/s", flush=True)
    t_one, seq_one = sequential(job, items, 1)
    print(f"sequential, 1 thread:        {t_one:7.1f} s  {args.images / t_one:6.3f} images/s", flush=True)

    import ray

    from inceptionism import cluster

    started = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, configure_logging=False, logging_level=logging.ERROR)
    ray_start = time.perf_counter() - started
    connection = cluster.connect(None)
    print(f"ray.init (local): {ray_start:.1f} s")
    rates = {}
    for n in [int(w) for w in args.workers.split(",")]:
        t, startup, digests = on_ray(job, items, n, connection)
        same = sum(digests.get(k) == v for k, v in seq_one.items())
        rates[n] = args.images / t
        print(f"ray, {n} worker{'s' if n > 1 else ' '} (1 thread each): {t:7.1f} s  {rates[n]:6.3f} images/s  "
              f"(first result after {startup:.1f} s: workers start, import torch, load the network); "
              f"{same}/{len(items)} outputs equal to the 1-thread sequential run", flush=True)
    ray.shutdown()
    print()
    print(f"ray_init_s: {ray_start:.1f}")
    for n, rate in rates.items():
        print(f"ray_{n}_workers_vs_sequential: {rate / (args.images / t_all):.2f}")


if __name__ == "__main__":
    main()
