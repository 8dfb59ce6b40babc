import sys

from chairtimectl.cli import main

sys.exit(main())
