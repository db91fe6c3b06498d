#!/usr/bin/env python
"""Django's command-line utility for isoguard (the same as the `isoguard` command)."""

from __future__ import annotations

import sys

from isoguard.cli import main

if __name__ == "__main__":
    sys.exit(main())
