"""The sandbox's service worker script (cold boot offline, issue 11): its cache is named after
the addon's version, so an upgrade is a byte-different worker that the browser installs and
whose activation drops the old version's cache (never stale core JS served forever)."""

import re
from pathlib import Path

import pytest
from werkzeug.test import Client

from sandbox.app import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tmp_path):
    return Client(create_app(tmp_path / "sandbox.sqlite3"))


def declared_version() -> str:
    text = (ROOT / "pos_offline_sync/static/src/core/version.js").read_text()
    return re.search(r'ADDON_VERSION = "([^"]+)"', text).group(1)


def test_worker_carries_the_addon_version(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"  # the browser checks it each load
    body = response.get_data(as_text=True)
    assert f'const VERSION = "{declared_version()}";' in body
    assert "__ADDON_VERSION__" not in body


def test_a_new_version_is_a_new_worker_and_a_new_cache(client, monkeypatch):
    old = client.get("/sw.js").get_data(as_text=True)
    monkeypatch.setattr("sandbox.app.addon_version", lambda: "19.0.9.9.9")
    new = client.get("/sw.js").get_data(as_text=True)
    assert new != old  # the browser installs a byte-different worker
    assert 'const VERSION = "19.0.9.9.9";' in new
    # Its activation deletes every cache of ours but its own.
    assert "name.startsWith(PREFIX) && name !== CACHE" in new and "caches.delete(name)" in new


def test_answers_that_must_be_the_servers_are_never_cached(client):
    body = client.get("/sw.js").get_data(as_text=True)
    network_only = re.search(r"const NETWORK_ONLY = \[(.*?)\];", body).group(1)
    assert '"/rpc/"' in network_only and '"/ping"' in network_only
    assert 'request.method === "GET"' in body
