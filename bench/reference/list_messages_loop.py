"""Warm `list_messages(limit=20)` through the reference Python stack, timed in-process: the
counterpart of `Runtime::call_tool("list_messages", ...)` in host/benches/reference.rs.

Builds the tool driver once (reference_gmail.py; MCS_GMAIL_BASE_URL, MCS_TOKEN_GMAIL), makes
WARMUP untimed calls, then ITERATIONS calls each timed with time.perf_counter_ns around
`execute_tool` alone, and prints one JSON object on stdout:

    {"messages": <entries in the last result>, "samples_ns": [...]}

The bench computes the percentiles, the same way for both sides.

    list_messages_loop.py ITERATIONS [WARMUP]
"""

import json
import sys
import time

from reference_gmail import tool_driver

ARGUMENTS = {"limit": 20}


def main() -> None:
    iterations = int(sys.argv[1])
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    driver = tool_driver()
    result = ""
    for _ in range(warmup):
        result = driver.execute_tool("list_messages", ARGUMENTS)
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        result = driver.execute_tool("list_messages", ARGUMENTS)
        samples.append(time.perf_counter_ns() - start)
    json.dump({"messages": len(json.loads(result)), "samples_ns": samples}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
