"""The reference Python stack's Gmail tools as an MCP server over stdio: the counterpart of
`mcs mcp` in host/benches/reference.rs.

The reference ships no MCP server, so this is the obvious wrapper a Python user would write
with the official MCP Python SDK: `MCPServer` (FastMCP in mcp 1.x; renamed in mcp 2), one tool
per entry of the reference's `list_tools()`, with its name, title, description and parameters
(JSON types, defaults, descriptions and required flags carried over), each calling
`execute_tool(name, arguments)` on the reference's tool driver (reference_gmail.py;
MCS_GMAIL_BASE_URL, MCS_TOKEN_GMAIL) and returning its JSON text as the tool's text content.
The tools are sync functions, so the SDK runs each call on a worker thread, as it does for any
sync tool.

    MCS_GMAIL_BASE_URL=http://127.0.0.1:41234 MCS_TOKEN_GMAIL=... \
        target/ref-venv/bin/python bench/reference/mcp_server.py
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Callable

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from reference_gmail import tool_driver

#: JSON Schema types the reference's tool parameters use, as Python annotations.
JSON_TYPES: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "number": float}


def tool_function(driver: Any, tool: Any) -> Callable[..., str]:
    """A function with the reference tool's parameters that calls `execute_tool`."""

    def call(**arguments: Any) -> str:
        return driver.execute_tool(tool.name, arguments)

    parameters = []
    for param in tool.parameters:
        schema = param.schema or {}
        annotation = Annotated[JSON_TYPES[schema.get("type", "string")], Field(description=param.description)]
        default = inspect.Parameter.empty if param.required else schema.get("default")
        parameters.append(
            inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        )
    call.__name__ = tool.name
    call.__signature__ = inspect.Signature(parameters, return_annotation=str)  # type: ignore[attr-defined]
    return call


def main() -> None:
    driver = tool_driver()
    server = MCPServer("mcs-python-reference")
    for tool in driver.list_tools():
        server.add_tool(
            tool_function(driver, tool),
            name=tool.name,
            title=tool.title,
            description=tool.description,
            structured_output=False,
        )
    server.run("stdio")


if __name__ == "__main__":
    main()
