"""course.kernel: a kernel channel that finds a message whose wake-up was lost, as nbclient once did not."""

from __future__ import annotations

import asyncio

import pytest
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

from whatsapp_cache.course.kernel import SlicedChannel, SteadyKernelClient, SteadyKernelManager


async def _reply_with_lost_wake_up(channel_class) -> dict:
    """Wait on a channel, drop the socket's file-descriptor watch (the lost edge), then deliver a message."""
    context = zmq.asyncio.Context()
    receiver, sender = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    receiver.bind("inproc://reply")
    sender.connect("inproc://reply")
    session = Session(key=b"")
    channel = channel_class(receiver, session)
    try:
        waiting = asyncio.ensure_future(asyncio.wait_for(channel.get_msg(), 3))  # no timeout of its own
        await asyncio.sleep(0.1)  # the wait is registered on the socket's file descriptor
        asyncio.get_running_loop().remove_reader(receiver.FD)  # no edge will ever wake it
        session.send(sender, "execute_reply", {"status": "ok"})
        return await waiting
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)
        context.term()


def test_a_reply_whose_wake_up_was_lost_is_found_by_the_next_slice():
    assert asyncio.run(_reply_with_lost_wake_up(SlicedChannel))["content"] == {"status": "ok"}


def test_the_plain_channel_waits_for_the_same_reply_forever():
    with pytest.raises(asyncio.TimeoutError):  # (with a timeout of its own it finds it only when that expires)
        asyncio.run(_reply_with_lost_wake_up(AsyncZMQSocketChannel))


def test_the_manager_hands_out_clients_with_sliced_channels():
    client = SteadyKernelManager().client()
    assert isinstance(client, SteadyKernelClient)
    assert client.shell_channel_class is SlicedChannel and client.iopub_channel_class is SlicedChannel
