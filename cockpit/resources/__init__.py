"""The kinds of object the cockpit shows, one module each (see base.py and registry.py)."""
