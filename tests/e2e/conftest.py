"""Every e2e file gets the tmux terminal fixture (tests/support/tmux.py) without importing it."""

from tests.support import tmux as _tmux

tmux_cockpit = _tmux.tmux_cockpit
