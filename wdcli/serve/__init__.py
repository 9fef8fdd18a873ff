"""Serving a trained model over HTTP (`wdcli serve`): request bodies (`bodies`), micro-batching (`batcher`),
the served model and hot reload (`models`), Prometheus metrics (`stats`), the app and the server (`app`).
Needs the `serve` extra (Starlette, uvicorn): `pip install 'wdcli[serve]'`."""
