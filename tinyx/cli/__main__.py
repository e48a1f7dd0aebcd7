"""`python -m tinyx.cli <tool> ...`: the same as the `tinyx` command."""

import sys

from tinyx.cli.main import main

sys.exit(main())
