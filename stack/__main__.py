"""``python -m stack [--check]``: see ``stack.files``."""

import sys

from stack.files import main

sys.exit(main())
