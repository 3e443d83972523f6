"""`booth bench` targets: one module per target with ``run(*, as_json: bool) -> int``."""
