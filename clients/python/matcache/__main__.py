"""`python3 -m matcache`: the matcache command line."""

import sys

from matcache.cli import main

sys.exit(main())
