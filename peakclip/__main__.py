"""``python -m peakclip`` and the ``peakclip`` command: the CLI (peakclip.workers.cli)."""
import os
import sys

# Before numpy is imported: its OpenBLAS starts a thread per core at import (0.1 CPU-s of every
# command's start on 2 cores) for matrix products peakclip never makes large; the work runs in
# parallel by chunk and by ffmpeg process instead.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from peakclip.workers.cli import main

if __name__ == "__main__":
    sys.exit(main())
