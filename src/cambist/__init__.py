"""Cambist: an open-source digital-asset exchange platform.

The package is layered (see docs/architecture.md): ``cambist.domain`` is the pure, deterministic
trading core; ``cambist.log`` makes commands durable; ``cambist.node`` runs an engine on a log;
``cambist.readmodels`` projects events into SQL; ``cambist.gateways`` and ``cambist.web`` talk to
clients; ``cambist.feeds`` ingests other venues' market data.
"""

__version__ = "0.1.0"
