"""Process-wide settings that make the CPU path fast.

Most activations of a large image are bigger than glibc's ``mmap`` threshold, so
each one is a fresh mapping that the kernel faults in (and zeroes) 4 KB at a time,
every step, and unmaps again when it is freed. On the machines this was measured on
that made a dream step at 1024x1024 about 1.5-2.5 times slower than it needs to be
(`python -m benchmarks` shows it: "code only" is our code with the process left as
it comes). :func:`tune_allocator` turns on PyTorch's own remedy: CPU tensors of 2 MB
and more are allocated 2 MB-aligned and advised to use transparent huge pages
(``THP_MEM_ALLOC_ENABLE``), 512 times fewer faults. Memory is still given back
when freed, so peak memory does not change.

PyTorch reads the setting once, at its first CPU allocation: call this before
creating any tensor. It changes the whole process, so the library never calls it
on import: the command line does; call it yourself first thing in a script.

An earlier version kept freed blocks in glibc's heap instead (``mallopt``): a
little faster still, but a 16384x16384 dream then held more than the machine's
24 GB, where it peaks at 12 GB with the heap left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

_THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def huge_pages_available() -> bool:
    """Whether the kernel grants transparent huge pages to a process that asks (madvise)."""
    try:
        setting = _THP_SETTING.read_text()
    except OSError:
        return False
    return "[never]" not in setting


def tune_allocator() -> bool:
    """Ask PyTorch for huge-page CPU allocations; True if the kernel can grant them.

    Has an effect only before the process's first CPU tensor is allocated.
    """
    if not huge_pages_available():
        return False
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    return os.environ["THP_MEM_ALLOC_ENABLE"] == "1"
