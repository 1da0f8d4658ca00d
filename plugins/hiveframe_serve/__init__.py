"""hiveframe_serve: first-party hiveframe plugin that serves a fitted model over HTTP.

``hiveframe serve MODEL --port P`` loads the model once and answers ``GET /tables`` and
``POST /sample`` (rows streamed back as CSV, JSON lines or an Arrow IPC stream) with Starlette on
uvicorn. See ``docs/serve.md``.
"""

__version__ = "0.1.0"
