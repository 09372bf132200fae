"""`python -m workers.evolve`: see workers/evolve/__init__.py."""

import sys

from workers.evolve.runner import main

if __name__ == "__main__":
    sys.exit(main())
