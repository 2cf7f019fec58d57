"""The sandbox's offline sync RPC as the register calls it, for the sandbox host's tests."""

from __future__ import annotations

import json

JSON = {"Content-Type": "application/json"}


def sync_orders(client, *orders) -> list[dict]:
    """Sends `orders` in one offline_sync_orders call of register 1; its per-order results."""
    payload = {"v": 1, "config_id": 1, "orders": list(orders)}
    response = client.post("/rpc/offline_sync_orders", data=json.dumps(payload), headers=JSON)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["result"]["results"]
