"""`python -m evolab.cli`."""

import sys

from evolab.cli import main

sys.exit(main())
