// The cards issue's part of the sandbox register: the offline card payment method, its card
// form, and card processing for the sync dialog. register.js calls these few functions, as the
// Odoo glue does from its PosStore patch; the logic itself is the addon's core.
import { cardProcessorOf } from "/core/card_processing.js";
import { CardVault } from "/core/card_vault.js";
import { limitsFromConfig, watchCardAge } from "/core/risk_limits.js";

/**
 * Card support of one logged-in register.
 * @param {object} options
 * @param {object} options.data /api/pos_data (config with the risk limits, card_public_key)
 * @param {{call: Function}} options.transport
 * @param {object} options.controller the OfflineController
 */
export function setupCards({ data, transport, controller }) {
    const vault = new CardVault({ transport, configId: data.config.id, dbName: data.db_name });
    // The key arrives with the POS data and is cached, so the form works offline after one
    // online load; a page opened offline uses the cached copy.
    const ready = vault.remember(data.card_public_key).catch(() => vault.cachedKey());
    cardProcessorOf(controller);
    const limits = limitsFromConfig(data.config);
    // The Sync icon's count down towards the age limit, refreshed with the waiting orders.
    const ageWatch = watchCardAge({ controller, limits });
    const refresh = controller.refresh.bind(controller);
    controller.refresh = async () => {
        await refresh();
        await ageWatch.update();
    };
    const destroy = controller.destroy.bind(controller);
    controller.destroy = () => {
        ageWatch.stop();
        destroy();
    };
    return {
        vault,
        ready,
        limits,
        /** Card methods are offered only while the register is capturing offline. */
        paymentMethods(methods) {
            const offline = controller.shouldCaptureOffline();
            return methods.filter((m) => m.is_cash || (m.offline_card && offline));
        },
        isCardMethod(method) {
            return Boolean(method && method.offline_card);
        },
    };
}
