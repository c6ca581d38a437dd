"""machinima-bridge server side: protocol, server, pipelines, client, simulator and tools."""

from __future__ import annotations

__version__ = "0.1.0"
