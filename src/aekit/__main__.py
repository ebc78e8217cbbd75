"""``python -m aekit``: the ``aekit`` command, for environments without the console script on PATH."""
import sys

from aekit.cli import main

sys.exit(main())
