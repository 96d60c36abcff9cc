"""`python -m tools.vcb`."""

from . import main

raise SystemExit(main())
