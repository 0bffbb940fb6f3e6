"""Scope factories the environment tests name by dotted path (workers import them)."""


def by_handler(handler_name: str) -> dict:
    """A secret for one handler only."""
    return {"SECRET": "s3cr3t"} if handler_name == "scoped_mapper" else {}


def broken(handler_name: str) -> dict:
    raise RuntimeError("vault unreachable")
