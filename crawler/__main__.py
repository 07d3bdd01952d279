"""``python -m crawler``."""

import sys

try:
    from crawler.cli.main import main
except KeyboardInterrupt:  # stopped (Ctrl-C, a cancelled run) while it was still starting: nothing to save
    sys.exit(130)

sys.exit(main())
