"""Fleet operations: many sites, one platform.

Desired-state bundles pushed over the central broker, validated exactly as
``escogw check`` does, applied whole or refused, rolled back when the site's
health fails; a retained health summary per gateway; what an operator's
``escogw fleet`` and ``escogw stats`` need. docs/fleet.md.
"""
