"""An MCP client built on the official MCP Python SDK, for host/tests/mcp_python.rs.

It connects to `mcs mcp` with the SDK's own transports and `ClientSession`, lists the tools,
makes the calls it is given, and writes JSON lines on stdout:

- `{"event": "elicitation", ...}` as soon as the server asks for one (before answering it),
  so the test can act as the person in the browser;
- `{"event": "summary", ...}` once at the end: server info, tools with their schemas, each
  call's result, the elicitations and the elicitation ids the server reported complete.

Usage:
    mcp_client.py [--call NAME JSON]... [--elicit accept|decline|cancel] \
        stdio [--cwd DIR] [--env KEY=VALUE]... -- COMMAND [ARG]...
    mcp_client.py [--call NAME JSON]... [--elicit ...] http URL

Without --elicit the client declares no elicitation capability. Errors go to stderr with a
non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.client.streamable_http import streamable_http_client

# How long to wait, after the last call, for completions sent on another stream (HTTP).
COMPLETION_GRACE_SECONDS = 5.0


def emit(record: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed at once (the test reads it while we wait)."""
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--call",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "JSON"),
        help="a tool to call with its arguments as a JSON object (repeatable, in order)",
    )
    parser.add_argument(
        "--elicit",
        choices=["accept", "decline", "cancel"],
        help="declare elicitation (form and URL mode) and answer every request this way",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for the whole run")
    transports = parser.add_subparsers(dest="transport", required=True)
    stdio = transports.add_parser("stdio", help="launch the server and speak over its stdin/stdout")
    stdio.add_argument("--cwd", help="the server's working directory")
    stdio.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="the server's environment"
    )
    stdio.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG]...")
    http = transports.add_parser("http", help="connect to a streamable HTTP endpoint")
    http.add_argument("url")
    args = parser.parse_args(argv)
    if args.transport == "stdio":
        if args.command[:1] == ["--"]:
            args.command = args.command[1:]
        if not args.command:
            parser.error("stdio needs -- COMMAND [ARG]...")
    return args


@asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK transport's (read, write) streams."""
    if args.transport == "stdio":
        env = dict(pair.split("=", 1) for pair in args.env)
        server = StdioServerParameters(
            command=args.command[0], args=args.command[1:], env=env, cwd=args.cwd
        )
        async with stdio_client(server) as (read, write):
            yield read, write
    else:
        async with streamable_http_client(args.url) as (read, write):
            yield read, write


def content_texts(result: types.CallToolResult) -> list[str]:
    return [block.text if isinstance(block, types.TextContent) else block.type for block in result.content]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    elicitations: list[dict[str, Any]] = []
    completed: list[str] = []

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        record = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        record["action"] = args.elicit
        elicitations.append(record)
        emit({"event": "elicitation", **record})
        return types.ElicitResult(action=args.elicit)

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, types.ElicitCompleteNotification):
            completed.append(message.params.elicitation_id)

    async with connect(args) as (read, write):
        async with ClientSession(
            read,
            write,
            elicitation_callback=on_elicit if args.elicit else None,
            message_handler=on_message,
            client_info=types.Implementation(name="mcs-python-test", version="0"),
        ) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            calls = []
            for name, arguments in args.call:
                started = time.monotonic()
                result = await session.call_tool(name, json.loads(arguments))
                calls.append(
                    {
                        "name": name,
                        "arguments": json.loads(arguments),
                        "is_error": result.is_error,
                        "texts": content_texts(result),
                        "elapsed_ms": round((time.monotonic() - started) * 1000),
                    }
                )
            # Over HTTP a completion may travel on the GET stream and land after the result.
            accepted = sum(1 for e in elicitations if e["action"] == "accept")
            with anyio.move_on_after(COMPLETION_GRACE_SECONDS):
                while len(completed) < accepted:
                    await anyio.sleep(0.05)
            return {
                "event": "summary",
                "protocol_version": init.protocol_version,
                "server": init.server_info.model_dump(mode="json", exclude_none=True),
                "capabilities": init.capabilities.model_dump(
                    by_alias=True, mode="json", exclude_none=True
                ),
                "tools": [
                    {
                        "name": tool.name,
                        "description": tool.description,
                        "input_schema": tool.input_schema,
                    }
                    for tool in tools.tools
                ],
                "calls": calls,
                "elicitations": elicitations,
                "completed": completed,
            }


async def main_async(args: argparse.Namespace) -> None:
    with anyio.fail_after(args.timeout):
        summary = await run(args)
    emit(summary)


def main() -> None:
    anyio.run(main_async, parse_args(sys.argv[1:]))


if __name__ == "__main__":
    main()
