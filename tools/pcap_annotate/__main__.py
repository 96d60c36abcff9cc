"""`python -m tools.pcap_annotate`."""

from . import main

raise SystemExit(main())
