"""Intake's pure rules and value objects: no I/O, no FastAPI, no SQLAlchemy."""
