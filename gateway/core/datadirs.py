"""Where the data folders live: drivers/, tariffs/, rules/.

In a checkout they sit beside the package; an installed copy has them under
the venv's share/ (scripts/install-offline puts them there). ``ESCOGW_DRIVERS``,
``ESCOGW_TARIFFS`` … override either.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def data_dir(name: str) -> Path:
    override = os.environ.get(f"ESCOGW_{name.upper()}")
    if override:
        return Path(override)
    checkout = CHECKOUT / name
    return checkout if checkout.is_dir() else Path(sys.prefix) / "share" / name
