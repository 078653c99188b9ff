"""Run the command-line interface: `python -m engine --help`."""

import sys

from engine.cli import main

sys.exit(main())
