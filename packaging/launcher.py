"""The installed program's entry point (PyInstaller starts here)."""

import sys

from desktop_chat.cli import main

if __name__ == "__main__":
    sys.exit(main())
