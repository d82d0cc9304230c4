"""``python -m peakclip.samples.generate``."""
import sys

from peakclip.samples.generate.cli import main

sys.exit(main())
