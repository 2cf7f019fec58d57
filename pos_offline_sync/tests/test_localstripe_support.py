# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import importlib.util
import os
import sys
import unittest
from unittest.mock import patch

from odoo.tests import BaseCase, tagged

from . import localstripe


@tagged("post_install", "-at_install")
class TestLocalStripeSupport(BaseCase):
    """Where the card tests find localstripe: a wrong $LOCALSTRIPE_PYTHON is an error, Odoo's
    own interpreter is used when it has localstripe, and no localstripe at all is a skip."""

    def test_named_interpreter_without_localstripe_is_an_error(self):
        with patch.dict(os.environ, {"LOCALSTRIPE_PYTHON": "/nonexistent/python"}):
            with self.assertRaisesRegex(RuntimeError, "cannot import localstripe"):
                localstripe.localstripe_python()

    def test_odoos_own_interpreter_first(self):
        if not importlib.util.find_spec("localstripe"):
            self.skipTest("localstripe is not importable in Odoo's interpreter")
        env = {k: v for k, v in os.environ.items() if k != "LOCALSTRIPE_PYTHON"}
        with patch.dict(os.environ, env, clear=True):
            self.assertEqual(localstripe.localstripe_python(), sys.executable)
            server = localstripe.LocalStripe()
            self.addCleanup(server.stop)
            self.assertEqual(server.proc.args[0], sys.executable)
            self.assertEqual(server.succeeded_intents("no-such-order"), [])

    def test_nowhere_is_a_skip_with_its_reason(self):
        env = {k: v for k, v in os.environ.items() if k != "LOCALSTRIPE_PYTHON"}
        with (
            patch.dict(os.environ, env, clear=True),
            patch.object(localstripe, "_has_localstripe", return_value=False),
            self.assertRaises(unittest.SkipTest) as caught,
        ):
            localstripe.localstripe_python()
        self.assertIn("localstripe is not installed", str(caught.exception))
