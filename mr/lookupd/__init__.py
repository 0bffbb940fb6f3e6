"""mr_lookupd: the project's nsqlookupd-protocol discovery service (see server.py)."""
