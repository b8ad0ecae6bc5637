"""Package data: built-in themes (cockpit.data.themes) and launch presets (cockpit.data.presets).

Both live at the top of the repository (themes/, presets/) and are mapped here in pyproject.toml.
"""
