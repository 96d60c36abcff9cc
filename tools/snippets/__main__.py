"""`python -m tools.snippets`."""

from . import main

raise SystemExit(main())
