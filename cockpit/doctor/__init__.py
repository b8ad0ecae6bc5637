"""`cockpit doctor`: is this cluster ready for GPU experiments?

checks.py holds one small pure function per check over objects already fetched; gather.py
fetches them with reads only (GET, plus the self-access review a read-only client may send);
registry.py asks the configured image registry; runner.py puts them together; report.py
prints a table or JSON. Nothing here imports the UI.
"""
