"""Runtime: settings, the embedded PostgreSQL, warehouse access and secrets."""
