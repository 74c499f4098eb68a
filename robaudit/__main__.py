"""``python -m robaudit``."""

import sys

from robaudit.cli import main

sys.exit(main())
