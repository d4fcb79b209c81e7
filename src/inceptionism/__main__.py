import os
import sys

from inceptionism.cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
    # A rank of a distributed run (torchrun, --nproc) ends here, its outputs written and its process group left:
    # exit at once rather than through the interpreter's teardown, where Gloo's threads and the c10d store's are
    # destroyed in no set order ("terminate called without an active exception", SIGABRT, seen under load).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
sys.exit(code)
