"""A local stand-in for the parts of Shopify (and later WooCommerce) the app calls.

For development, the demo and tests only: it listens on 127.0.0.1, keeps everything in
memory, and can be told to fail (429 with Retry-After, 500, GraphQL THROTTLED, slow answers)
so the real client libraries can be tested against real sockets. Every GraphQL document is
validated and executed against a subset of Shopify's real Admin schema (2026-07, see
SOURCES.md beside this file), so a query the real API would reject is rejected here too.
"""
