"""The footer, recomposed only when the keys it shows change.

Textual's Footer builds all its key widgets again whenever the screen's bindings may have
changed: a context connecting, the RBAC answers, a focus change. Each rebuild mounts and styles
some fifteen widgets (20-40 ms at 160 columns), six times while the first list of a cluster
arrives; most of them showed the same keys. Changes that come before a scheduled rebuild has
run are shown by that one rebuild.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class CockpitFooter(Footer):
    _shown: tuple | None = None
    _pending = False  # a rebuild is scheduled: it reads the bindings when it runs

    def _keys(self, screen: Screen) -> tuple:
        """What compose reads: each shown binding with its enabled state and tooltip, and how the
        app displays its key (a keymap can change that)."""
        app = screen.app
        return tuple((binding, enabled, tooltip, app.get_key_display(binding))
                     for (_, binding, enabled, tooltip) in screen.active_bindings.values() if binding.show)

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            keys = self._keys(screen)
            if keys == self._shown and self._bindings_ready:
                return
            self._shown = keys
            if self._pending:
                return  # changed again before the rebuild ran: one rebuild shows both changes
            self._pending = True
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        self._pending = False
        await super().recompose()
