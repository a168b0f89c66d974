"""Pure business rules: standard library only, no Flask, SQLAlchemy or Redis."""
