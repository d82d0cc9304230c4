"""``python -m peakclip`` and the ``peakclip`` command: the CLI (peakclip.workers.cli)."""
import sys

from peakclip.workers.cli import main

if __name__ == "__main__":
    sys.exit(main())
