"""An app that uses a tool server, for the test that kills it with SIGKILL: starts our
test server through ToolServers, prints the server's and its grandchild's process ids,
starts a long call, and waits to be killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from desktop_chat.core.secrets import KeyStore
from desktop_chat.core.settings import Settings, SettingsStore
from desktop_chat.core.tools.config import ToolServerConfig
from desktop_chat.core.tools.registry import ToolServers

ROOT = Path(__file__).parents[2]


async def main(folder: Path) -> None:
    config = ToolServerConfig("ours", command=sys.executable, args=("-m", "tests.fakes.mcp_server"), cwd=str(ROOT))
    servers = ToolServers(SettingsStore(Settings(tool_servers=(config,))), KeyStore(), folder / "logs")
    server = servers.server(config)
    pid = (await server.call("whoami", {})).structured_content["result"]
    grandchild = (await server.call("spawn_grandchild", {})).structured_content["result"]
    call = asyncio.ensure_future(server.call("sleepy", {"seconds": 300}))
    await asyncio.sleep(0.3)
    print(pid, grandchild, flush=True)
    await call


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
