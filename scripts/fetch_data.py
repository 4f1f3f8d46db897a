#!/usr/bin/env python
"""Fetch the real-media data of DATA.md into $NCODEC_DATA (default ~/.cache/ncodec/data).

Thin wrapper over :func:`ncodec.datasets.fetch.main`; run ``python scripts/fetch_data.py --help``.
"""

import sys

from ncodec.datasets.fetch import main

if __name__ == "__main__":
    sys.exit(main())
