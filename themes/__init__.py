"""Built-in theme files, installed as the package data of cockpit.data.themes (see pyproject.toml)."""
