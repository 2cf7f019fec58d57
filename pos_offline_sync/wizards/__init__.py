from . import charge_new_card, offline_csv_import  # noqa: F401 - registered by import
