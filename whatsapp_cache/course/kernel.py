"""A notebook client whose waits on the kernel cannot miss a message: every wait polls in slices of 1 s.

nbclient waits for a cell's reply on a zmq.asyncio socket, woken through the socket's file
descriptor, which ZeroMQ signals on an edge. A run of chapter 01 on this machine (2 cores, loaded)
once stopped at its widget cell for good: the kernel was idle, its execute_reply sat readable in
the client's own shell socket (ZMQ_EVENTS had POLLIN), and the client's event loop waited for an
edge that had already passed; one more look at the socket (its `_handle_events`) let the run go on
at once. A poll that starts afresh reads ZMQ_EVENTS first, so waiting in slices turns such a lost
wake-up into a delay of at most one slice. Without them the reply is found only when the wait's own
timeout expires: the cell's (600 s in course build), or never where there is none (nbclient's
IOPub wait; Voila's cells). nbval is not affected: its blocking client polls level-triggered.

    notebook_client(notebook, path, timeout)   # chapters.execute and benchmarks/notebook_runtimes.py
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import Type, default

SLICE_S = 1.0


class SlicedChannel(AsyncZMQSocketChannel):
    """A kernel channel whose get_msg polls afresh every SLICE_S seconds until its timeout (None: forever)."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            if await self.socket.poll(int(min(SLICE_S, left) * 1000)):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class SteadyKernelClient(AsyncKernelClient):
    """The asynchronous kernel client, with sliced waits on the shell, IOPub and control channels."""

    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)
    control_channel_class = Type(SlicedChannel)


class SteadyKernelManager(AsyncKernelManager):
    """The asynchronous kernel manager nbclient uses, handing out SteadyKernelClients."""

    @default("client_factory")
    def _steady_client(self) -> type:
        return SteadyKernelClient


def notebook_client(notebook, path, timeout: int, **options) -> NotebookClient:
    """An nbclient NotebookClient for `notebook` read from `path`, run in its folder, with steady waits."""
    return NotebookClient(notebook, timeout=timeout, kernel_name="python3", kernel_manager_class=SteadyKernelManager,
                          resources={"metadata": {"path": str(path.parent)}}, **options)
