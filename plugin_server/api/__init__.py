"""HTTP blueprints: thin handlers that authenticate, call one service and shape JSON."""
