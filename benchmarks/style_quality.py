"""How close a fast style network comes to optimisation, on content it never saw.

    python -m benchmarks.style_quality                       # the shipped model
    python -m benchmarks.style_quality --model two.safetensors --styles-dir ../shared/images
    python -m benchmarks.style_quality --arbitrary           # Magenta's arbitrary network, given the same paintings

For each held-out content image and each style of the model, the network's output
is scored with the loss it was trained on (same loss network, layers, weights and
style targets, rebuilt from the model's training metadata). The same loss is then
minimised directly by ``style``'s optimiser (Adam at its default learning rate,
from the content image, at the same size) and its loss recorded after every
iteration. ``fast_vs_opt_iterations`` is the iteration count at which optimisation
reaches the network's loss (median over the pairs; above ``--iterations`` when it
never does). Style separation: the mean |difference| (0-255) between the outputs of
two styles for the same content, for the network and for optimisation.

Style images are found by the SHA-256 recorded in the model, among ``--style``
files and the images of ``--styles-dir``. With ``--arbitrary``, the fast outputs
are Magenta's arbitrary-stylisation network's, given those same paintings (as
``stylize --style`` does: each painting embedded at 256 px, one pass), scored with
the same loss.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from inceptionism.io.images import load_image
from inceptionism.models import get_model
from inceptionism.style import StyleConfig
from inceptionism.style.model_file import load_model
from inceptionism.style.network import mix_weights
from inceptionism.style.train import TrainConfig, TrainLoss, style_targets

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "images"
DEFAULT_CONTENT = (str(SHARED / "tubingen.jpg"), "skimage:astronaut", "skimage:coffee")
CHECKPOINTS = (50, 100, 300)


def find_styles(meta: dict, candidates: list[Path]) -> list[torch.Tensor]:
    """The model's style images, matched by the SHA-256 of their files."""
    by_hash = {}
    for path in candidates:
        if path.is_file():
            by_hash[hashlib.sha256(path.read_bytes()).hexdigest()] = path
    found = []
    for style in meta["styles"]:
        path = by_hash.get(style["sha256"])
        if path is None:
            sys.exit(f"style {style['name']!r} (sha256 {style['sha256'][:12]}...) not found: pass it with --style")
        found.append(load_image(path).rgb)
    return found


def resize_long(image: torch.Tensor, side: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    scale = side / max(h, w)
    size = (max(16, round(h * scale)), max(16, round(w * scale)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)


def optimise(loss_fn: TrainLoss, content: torch.Tensor, target: dict, index: torch.Tensor, iterations: int,
             lr: float) -> tuple[list[tuple[float, float, float]], torch.Tensor]:
    """Adam on the pixels from the content: (content, style, total) loss after each iteration, and the last image.

    The loss before step k+1 is computed on the clamped image after step k, so it is
    exactly the loss after k steps; only the last one needs a forward of its own.
    """
    image = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=lr)
    before = []
    for _ in range(iterations):
        opt.zero_grad(set_to_none=True)
        parts = loss_fn.parts(image, target, index)
        parts.total.backward()
        opt.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        before.append((parts.content.item(), parts.style.item(), parts.total.item()))
    with torch.no_grad():
        p = loss_fn.parts(image, target, index)
    return before[1:] + [(p.content.item(), p.style.item(), p.total.item())], image.detach()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.style_quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a train-style model (default: the one that ships)")
    parser.add_argument("--style", action="append", default=[], help="a style image of the model (else --styles-dir)")
    parser.add_argument("--styles-dir", default=str(SHARED), help=f"where to look for the style images ({SHARED})")
    parser.add_argument("--content", action="append", default=None,
                        help="held-out content images (default: tubingen.jpg, skimage:astronaut, skimage:coffee)")
    parser.add_argument("--size", type=int, default=256, help="long side of the content (default 256)")
    parser.add_argument("--iterations", type=int, default=300, help="optimisation iterations (default 300)")
    parser.add_argument("--style-layers", default=None, metavar="L1,L2,...",
                        help="score with these style layers instead of the model's own (to compare models trained "
                             "with different losses on one scale)")
    parser.add_argument("--arbitrary", action="store_true",
                        help="score Magenta's arbitrary network given the model's paintings, instead of the model")
    parser.add_argument("--opt-cache", default=None, metavar="FILE.json",
                        help="keep the optimisation curves here and reuse them (they depend only on the loss, the "
                             "content, the painting and the size: scoring several models then optimises once)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)

    if args.model is None:
        from inceptionism.style.shipped import shipped_model_path

        args.model = str(shipped_model_path())
    net, meta = load_model(args.model, device)
    training = meta["training"]
    config = TrainConfig.from_dict(training)
    if args.style_layers:
        config = dataclasses.replace(config, style_layers=tuple(a.strip() for a in args.style_layers.split(",")))
    loss_net = get_model(training.get("loss_model", "efficientnet_lite0"), device=device)
    candidates = [Path(s) for s in args.style] + sorted(Path(args.styles_dir).glob("*"))
    styles = find_styles(meta, candidates)
    loss_fn = TrainLoss(loss_net, style_targets(styles, config, device), config, *config.loss_layers(loss_net))
    names = [s["name"] for s in meta["styles"]]
    lr = StyleConfig().lr
    if args.arbitrary:
        from inceptionism.style import magenta

        arbitrary = magenta.load_arbitrary(device)
        embeddings = [magenta.embed_styles(arbitrary, [s]) for s in styles]
        print(f"# fast outputs: Magenta's arbitrary network given the paintings (not {args.model})")
    contents = [c for c in (args.content or DEFAULT_CONTENT) if c.startswith("skimage:") or Path(c).is_file()]
    print(f"# style quality of {args.model}: {len(names)} styles, trained {training.get('step')} steps; "
          f"loss layers: content {','.join(loss_fn.content_layers)}, style {','.join(loss_fn.style_layers)}; "
          f"{len(contents)} held-out images at {args.size} px; optimisation: Adam lr {lr}, from the content")
    shown = [k for k in CHECKPOINTS if k <= args.iterations]
    print("losses: c content, s style, t total (with the training weights; total = c + s + smoothness)")
    print(f"{'content':<11}{'style':<16}{'fast c/s/t':>20}" + "".join(f"{'opt@' + str(k) + ' c/s/t':>21}" for k in shown)
          + f"{'matches':>8}")
    cache_path = Path(args.opt_cache) if args.opt_cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.is_file() else {}
    # what the optimisation depends on: the loss (weights, layers, style targets' size) and the run, not how a model trained
    recipe = json.dumps([loss_net.name, config.content_weight, config.style_weight, config.tv_weight, config.style_scale,
                         config.image_size, loss_fn.content_layers, loss_fn.style_layers, args.size, args.iterations, lr])
    matches, fast_totals, opt_totals = [], [], {k: [] for k in CHECKPOINTS}
    separation_fast, separation_opt = [], []
    started = time.perf_counter()
    for content_name in contents:
        content = resize_long(load_image(content_name).rgb, args.size).to(device)
        target = loss_fn.content_features(content)
        fast_outputs, opt_outputs = [], []
        for i, name in enumerate(names):
            index = torch.tensor([i], device=device)
            with torch.no_grad():
                out = arbitrary(content, embeddings[i]) if args.arbitrary else \
                    net(content, mix_weights(len(names), index=i, device=device))
                p = loss_fn.parts(out, target, index)
            fast_outputs.append(out)
            key = hashlib.sha256(f"{recipe}|{content_name}|{meta['styles'][i]['sha256']}".encode()).hexdigest()
            if key in cache:
                after, image = [tuple(v) for v in cache[key]["after"]], None
            else:
                after, image = optimise(loss_fn, content, target, index, args.iterations, lr)
                cache[key] = {"after": after}
            at = {k: after[k - 1] for k in shown}
            n = next((k + 1 for k, v in enumerate(after) if v[2] <= p.total.item()), args.iterations + 1)
            matches.append(n)
            fast_totals.append(p.total.item())
            for k in shown:
                opt_totals[k].append(at[k][2])
            opt_outputs.append(image)
            label = Path(content_name).stem.replace("skimage:", "")
            cst = f"{p.content.item():.2f}/{p.style.item():.2f}/{p.total.item():.2f}"
            print(f"{label[:10]:<11}{name[:15]:<16}{cst:>20}"
                  + "".join(f"{'/'.join(f'{v:.2f}' for v in at[k]):>21}" for k in shown)
                  + f"{(str(n) if n <= args.iterations else '>' + str(args.iterations)):>8}", flush=True)
        for a, b in itertools.combinations(range(len(names)), 2):
            separation_fast.append(((fast_outputs[a] - fast_outputs[b]).abs().mean() * 255).item())
            key = hashlib.sha256(f"{recipe}|{content_name}|separation|{a}|{b}".encode()).hexdigest()
            if opt_outputs[a] is not None and opt_outputs[b] is not None:
                cache[key] = ((opt_outputs[a] - opt_outputs[b]).abs().mean() * 255).item()
            separation_opt.append(cache[key])
    if cache_path:
        cache_path.write_text(json.dumps(cache))
    median = statistics.median(matches)
    print(f"\nmean total loss: fast {statistics.fmean(fast_totals):.3f}; optimisation "
          + ", ".join(f"@{k} {statistics.fmean(v):.3f}" for k, v in opt_totals.items() if v))
    if separation_fast:
        print(f"style separation (mean |difference| between styles, 0-255): fast "
              f"{statistics.fmean(separation_fast):.1f}, optimisation@{args.iterations} {statistics.fmean(separation_opt):.1f}")
    print(f"({time.perf_counter() - started:.0f} s)")
    print(f"fast_vs_opt_iterations: {median:.0f}")
    if separation_fast:
        print(f"style_separation_ratio: {statistics.fmean(separation_fast) / statistics.fmean(separation_opt):.2f}")


if __name__ == "__main__":
    main()
