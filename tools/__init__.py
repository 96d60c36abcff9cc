"""opskb's domain tools: each module runs as `python -m tools.<name>` and is imported by the plugins."""
