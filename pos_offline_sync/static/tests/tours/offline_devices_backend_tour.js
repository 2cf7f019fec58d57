/** @odoo-module */
// The back office's side of device reports: the POS dashboard card says how many orders wait
// on how many devices; its badge opens the Devices list; once the device reports 0 (here the
// tour sends that report itself, as the register would after its sync) the open list shows 0
// by itself, without a reload.
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

const ROW = ".o_list_view .o_data_row:has(td[name='name']:contains('Back office tablet'))";

registry.category("web_tour.tours").add("pos_offline_devices_backend_tour", {
    steps: () => [
        {
            content: "the dashboard card counts the waiting orders and their devices",
            trigger: ".o_pos_offline_waiting_devices:contains('3 orders waiting on 1 devices')",
            run: "click",
        },
        { content: "the Devices list shows the device", trigger: `${ROW} td[name='waiting_count']:contains('3')` },
        {
            content: "the device syncs and reports 0",
            trigger: ROW,
            run: async () => {
                const [device] = await rpc("/web/dataset/call_kw/pos.offline.device/search_read", {
                    model: "pos.offline.device",
                    method: "search_read",
                    args: [[["device_uid", "=", "b".repeat(32)]]],
                    kwargs: { fields: ["config_id"] },
                });
                await rpc("/web/dataset/call_kw/pos.order/offline_device_report", {
                    model: "pos.order",
                    method: "offline_device_report",
                    args: [
                        {
                            v: 1,
                            config_id: device.config_id[0],
                            device_id: "b".repeat(32),
                            device_name: "Back office tablet",
                            seq: 2,
                            addon_version: "19.0.1.4.0",
                            storage: "persisted",
                            cashier: null,
                            waiting: { count: 0, total: 0, oldest_at: null },
                            cards: { count: 0, amount: 0, oldest_at: null, seconds_left: null },
                            at: new Date().toISOString(),
                        },
                    ],
                    kwargs: {},
                });
            },
        },
        {
            content: "the open list shows 0 by itself (it reloads every 10 s)",
            trigger: `${ROW} td[name='waiting_count']:contains('0')`,
            timeout: 30000,
        },
    ],
});
