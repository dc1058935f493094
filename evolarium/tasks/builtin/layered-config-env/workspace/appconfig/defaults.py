"""Built-in defaults. Every valid setting appears here, with a value of the right type."""

DEFAULTS = {
    "server": {"host": "127.0.0.1", "port": 8080, "debug": False},
    "database": {"url": "sqlite:///app.db", "pool_size": 5, "timeout": 2.5},
    "features": {"signup": True, "beta_banner": False},
}
