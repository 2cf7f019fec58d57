/** @odoo-module */
// The addon version this browser code belongs to: what a device reports, so the back office
// sees a register still running old cached code. Kept equal to __manifest__.py's version (a
// test checks it).

export const ADDON_VERSION = "19.0.1.4.0";
