"""Rule files: the YAML schema operators edit by hand, and the compiler that checks it whole.

``schema`` is the file's shape (pydantic models, value parsers); ``compile``
checks it against the site and builds the ``RuleSet`` the engine runs, with
``context`` (units, groups, capabilities), ``slots`` (schedules, sweeps) and
``precool`` (pre-cooling, the tariff). docs/rules.md is the reference for every key.
"""

from gateway.control.rules.compile import load_rules

__all__ = ["load_rules"]
