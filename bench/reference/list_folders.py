"""One `list_folders` call through the reference Python stack, then exit: the cold-process
counterpart of `mcs call list_folders` in host/benches/reference.rs.

Reads MCS_GMAIL_BASE_URL and MCS_TOKEN_GMAIL like `mcs` (see reference_gmail.py) and prints
the tool's result (a JSON array of label names) on stdout.

    MCS_GMAIL_BASE_URL=http://127.0.0.1:41234 MCS_TOKEN_GMAIL=... \
        target/ref-venv/bin/python bench/reference/list_folders.py
"""

import sys

from reference_gmail import tool_driver

sys.stdout.write(tool_driver().execute_tool("list_folders", {}) + "\n")
