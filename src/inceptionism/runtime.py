"""Process-wide settings that make the CPU path fast.

glibc's ``malloc`` serves every block over 32 MB (most activations of a large
image) with a fresh ``mmap`` and gives it back with ``munmap`` when freed, so each
such tensor costs a page fault per 4 KB page and the kernel zeroing it, every step.
On the machines this was measured on that made a dream step 2-2.6 times slower
than it needs to be (`python -m benchmarks` shows it). :func:`tune_allocator` keeps
large blocks in the heap and the heap from being trimmed, so freed activations are
reused by the next step. It changes the whole process, so the library never calls
it on import: the command line and the web app do; call it yourself in a script
or notebook that dreams on the CPU. Memory that was used stays with the process
until it exits (peak RSS is unchanged; RSS no longer shrinks between steps).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_tuned = False


def tune_allocator() -> bool:
    """Keep freed large blocks for reuse (glibc only); True if the setting took effect."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    log.debug("allocator tuning %s", "on" if ok else "refused")
    _tuned = ok
    return ok
