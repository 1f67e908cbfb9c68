"""EV charging under the site's demand limit: the local OCPP 1.6J central system (I/O), the
charger state it keeps, the allocator and fail-safe shares (pure), and the supervisor that
runs one allocation cycle after another (docs/ev-charging.md)."""
