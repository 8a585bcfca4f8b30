"""The REST gateway (``/api/v1``): see :mod:`cambist.gateways.rest.gateway` for the route table."""
