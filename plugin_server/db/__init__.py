"""Persistence: tables, engine set-up, unit of work and shop-scoped queries."""
