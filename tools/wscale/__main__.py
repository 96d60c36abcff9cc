"""`python -m tools.wscale`."""

from . import main

raise SystemExit(main())
