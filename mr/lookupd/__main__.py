"""`python -m mr.lookupd`: the same as the `mr_lookupd` console script."""
import sys

from mr.lookupd.cli import main

sys.exit(main())
