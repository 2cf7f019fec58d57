"""The sandbox: a small werkzeug + SQLite host of the addon's core, for `make demo` and the
browser tests. Not part of the addon; no feature lives only here."""

import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The addon's __init__ imports its Odoo models. Without Odoo, register the package as a bare
# namespace so its framework-free `core` (all the sandbox needs) imports on its own.
if "pos_offline_sync" not in sys.modules:
    try:
        import odoo  # noqa: F401
    except ImportError:
        _pkg = types.ModuleType("pos_offline_sync")
        _pkg.__path__ = [str(ROOT / "pos_offline_sync")]
        sys.modules["pos_offline_sync"] = _pkg
