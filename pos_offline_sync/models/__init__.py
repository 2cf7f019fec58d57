from . import (  # noqa: F401 - Odoo registers the models by import
    ir_sequence,
    pos_config,
    pos_offline_card_attempt,
    pos_offline_card_key,
    pos_offline_card_lease,
    pos_offline_device,
    pos_offline_sync_log,
    pos_order,
    pos_payment_method,
    pos_session,
    res_config_settings,
)
