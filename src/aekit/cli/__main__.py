"""``python -m aekit.cli`` (what torchrun launches)."""
import sys

from . import main

sys.exit(main())
