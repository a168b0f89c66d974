"""Outbound platform clients behind one interface; credentials are passed on every call."""
