"""`cockpit` starts with the cyclic garbage collector off (cli.main) so that loading the UI and
building its first frame does not pay for collections over objects that live as long as the
app; the app turns it back on after that frame, or it would stay off for the whole session."""

from __future__ import annotations

import gc

from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app


async def test_the_collector_is_on_again_after_the_first_frame():
    app = recorded_app("pods")
    gc.disable()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, gc.isenabled, what="the collector back on")
            assert gc.get_freeze_count() > 0  # what the start made is kept out of collections
    finally:
        gc.unfreeze()
        gc.enable()


async def test_an_app_started_with_the_collector_on_leaves_it_alone():
    app = recorded_app("pods")
    assert gc.isenabled()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert gc.isenabled() and gc.get_freeze_count() == 0
