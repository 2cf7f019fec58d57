from . import (  # noqa: F401 - registered by import
    charge_new_card,
    offline_close_session,
    offline_csv_import,
    offline_csv_import_line,
)
