"""opskb's domain tools, one package per command (`python -m tools.<name>`).

wscale (window-scaling arithmetic), pcap_annotate (captures), vcb (the VCB command
model), snippets (the checkers of code blocks), wscale_lab (the network lab) and site
(building and serving the site). The plugins import them; they import no plugin.
"""
