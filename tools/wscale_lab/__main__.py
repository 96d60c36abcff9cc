"""`python -m tools.wscale_lab`."""

from . import main

raise SystemExit(main())
