"""`python -m mr.broker`: the same as the `mr_broker` console script."""
import sys

from mr.broker.cli import main

sys.exit(main())
