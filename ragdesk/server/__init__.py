"""``ragdesk serve``: an OpenAI-compatible HTTP API over the same engine as the app and the CLI.

- :mod:`~ragdesk.server.model_ids`: the ``model`` field, ``MODE[:COLLECTION][@ADAPTER]``
- :mod:`~ragdesk.server.worker`: the one thread that owns the model, a fair bounded queue
- :mod:`~ragdesk.server.backend`: what that thread owns (store, chat session, model)
- :mod:`~ragdesk.server.protocol`: the wire format (completions, chunks, citations, errors)
- :mod:`~ragdesk.server.guards`: API key and body-size checks in front of every route
- :mod:`~ragdesk.server.app`: the routes; :mod:`~ragdesk.server.runner`: start and stop

Imported lazily: FastAPI and uvicorn load only when a server is started.
"""
