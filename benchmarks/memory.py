"""Peak memory against image size, with tiling: each size in a fresh process.

On the CPU the figure is the process's peak resident set (``VmHWM``); on a GPU,
``torch.cuda.max_memory_allocated``. One tiled dream step on the default model.
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import json, sys, torch
from inceptionism.dream import DreamConfig, dream
from inceptionism.models import get_model
from inceptionism.objectives import from_addresses
size, tile, device = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
net = get_model("efficientnet_lite0", device=device)
x = torch.rand(1, 3, size, size)
dream(net, x, from_addresses(["blocks.4"]), DreamConfig(steps=1, octaves=1, tile=tile))
def vm_hwm():  # this address space's peak; ru_maxrss would carry the parent's over fork+exec
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
peak = torch.cuda.max_memory_allocated() if device == "cuda" else vm_hwm()
print(json.dumps({"peak_bytes": peak}))
"""


def peak_memory(size: int, tile: int, device: str) -> int:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(size), str(tile), device],
                          capture_output=True, text=True, check=True)
    return int(json.loads(proc.stdout.strip().splitlines()[-1])["peak_bytes"])
