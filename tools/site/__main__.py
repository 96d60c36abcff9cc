"""`python -m tools.site`."""

from . import main

raise SystemExit(main())
