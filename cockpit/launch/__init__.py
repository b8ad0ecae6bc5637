"""Launching experiments: presets (typed parameters + manifest templates), creating them in a
cluster all-or-nothing, and run images built from local code. Never imports the UI.

    from cockpit.launch.library import PresetLibrary
    from cockpit.launch.apply import plan, dry_run, create, follow
    from cockpit.launch.image import build_image
"""

from cockpit.launch.errors import ImageError, LaunchError, ParameterError, PresetError, TemplateError

__all__ = ["ImageError", "LaunchError", "ParameterError", "PresetError", "TemplateError"]
