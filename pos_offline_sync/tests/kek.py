# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The card KEK for tests: a fresh key file in a temp dir, named by the server's configuration
(`tools.config`) for the test or class, then the configuration restored."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from odoo import tools

from ..core import card_keys
from ..models.pos_offline_card_key import KEK_ENV, KEK_OPTION

_MISSING = object()


@contextlib.contextmanager
def card_kek_setting(value):
    """The server's configuration names `value` as the KEK file ("" for none) meanwhile; the
    environment variable is set aside too."""
    runtime = tools.config.options.maps[0]  # what tools.config[...] = ... writes
    before = runtime.get(KEK_OPTION, _MISSING)
    env_before = os.environ.pop(KEK_ENV, None)
    tools.config[KEK_OPTION] = str(value)
    try:
        yield
    finally:
        if before is _MISSING:
            runtime.pop(KEK_OPTION, None)
        else:
            runtime[KEK_OPTION] = before
        if env_before is not None:
            os.environ[KEK_ENV] = env_before


def new_kek_file():
    """(path, folder) of a fresh KEK file in its own temp dir."""
    folder = Path(tempfile.mkdtemp(prefix="pos-offline-kek-test-"))
    path = folder / "card.kek"
    card_keys.write_kek_file(path)
    return path, folder


def use_new_kek(add_cleanup):
    """Configures a fresh KEK until `add_cleanup` (addCleanup or addClassCleanup) runs; returns
    its path."""
    path, folder = new_kek_file()
    add_cleanup(shutil.rmtree, folder, True)
    stack = contextlib.ExitStack()
    stack.enter_context(card_kek_setting(path))
    add_cleanup(stack.close)
    return path
