"""Pure business rules: standard library only, no Flask, SQLAlchemy or Redis.

One exception: `clv` uses numpy and scipy for its numerics (still no I/O), and is imported
only by what needs it, so the rest of the domain loads without them.
"""
