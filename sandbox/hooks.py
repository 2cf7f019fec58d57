"""Extension points of the sandbox pages, for modules such as sandbox/cards.py.

Each list holds plain callables; the app calls them in order. HTML they return must be a
`markupsafe.Markup` built with `Markup(...).format(...)` (values escaped); a plain str is
escaped again and shows as text.

- POS_DATA: `fn(ctx, conn, data: dict) -> None` adds keys to `/api/pos_data`.
- SETTINGS_SECTIONS: `(render(ctx, conn) -> Markup, save(ctx, conn, form) -> str | None)`: extra
  fields on /settings; `save` returns an error message to show, or None.
- ORDER_SECTIONS: `fn(ctx, conn, order_row) -> Markup`: extra HTML on /backoffice/order/<uuid>.
- ROUTES: `(rule, endpoint, view(ctx, request, **values) -> Response, methods)`: extra pages.
- APP_INIT: `fn(ctx) -> None`, called once by `create_app` after the database is created, so a
  module migrates its tables before any request (whatever the first request is).
- IMPORT_CHUNK_DONE: `fn(ctx, done, total) -> None`, after each committed chunk of a CSV import
  (progress; the tests raise here to crash an import between two chunks).
- SYNC_DONE: `fn(ctx, payload, answer) -> None`, after an `offline_sync_orders` batch was
  committed and before it is answered (the sync log). Its failure is logged, never answered.
"""

POS_DATA: list = []
SETTINGS_SECTIONS: list = []
ORDER_SECTIONS: list = []
ROUTES: list = []
APP_INIT: list = []
IMPORT_CHUNK_DONE: list = []
SYNC_DONE: list = []
