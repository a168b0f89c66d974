"""The shopper-facing widget and its API (built in a later issue; nothing is served yet)."""
