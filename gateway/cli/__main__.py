"""``python -m gateway.cli``: the same as ``escogw``."""

import sys

from gateway.cli.main import main

sys.exit(main())
