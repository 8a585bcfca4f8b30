"""A small Python client for the Cambist REST API: request signing, sync and async.

>>> from cambist.client import Client
>>> # Client("http://127.0.0.1:8000", key, secret).place_order("BTC-USD", "buy", "0.001", "65000")
"""

from cambist.client.client import ApiError, AsyncClient, Client, sign, signed_headers

__all__ = ["ApiError", "AsyncClient", "Client", "sign", "signed_headers"]
