"""The embedded default's Redis: fakeredis, with its slowest per-call steps done once instead of every call.

fakeredis re-parses every RESP write with a generator that slices its buffer field by
field, answers through a locking queue.Queue, compiles each script's Lua text on every
EVALSHA, forces a full Lua garbage collection after it, and scans the Lua globals before
every redis.call inside it. Here, on the same fakeredis server and command code:

    write  -> whole commands parsed in one pass (anything else: fakeredis' own parser)
    reply  -> queue.SimpleQueue (the same put/get/qsize, without a Condition per call)
    script -> its compiled chunk kept per text; collected by Lua's incremental GC;
              globals checked after the script, as fakeredis does, not before each call

Replies, errors, MULTI/EXEC, pub/sub and script atomicity (a script runs under the
server's lock, inside one command) are fakeredis' own: only the plumbing around them changed.
"""

from __future__ import annotations

import queue

import fakeredis
from fakeredis._clients._sync import FakeRedisConnection
from fakeredis._socket import FakeSocket
from fakeredis.commands_mixins import scripting_mixin as lua

FULL_COLLECTION = "collectgarbage()"  # what fakeredis runs after every script
KEPT_SCRIPTS = 256  # compiled chunks kept per server (the library has a handful; EVAL of many texts starts afresh)


def make_client(**options) -> fakeredis.FakeRedis:
    """A client of a private in-process server whose connections take the short path."""
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), connection_class=EmbeddedConnection, **options)


class EmbeddedConnection(FakeRedisConnection):
    """A redis-py connection to fakeredis whose socket is an EmbeddedSocket."""

    def _connect(self) -> "EmbeddedSocket":
        if not self._server.connected:
            raise self._connection_error_class(lua.msgs.CONNECTION_ERROR_MSG)
        return EmbeddedSocket(self._server, client_class=self._client_class, db=self.db,
                              lua_modules=self._lua_modules, client_info=self._client_info)


class EmbeddedSocket(FakeSocket):
    """fakeredis' socket with a one-pass parser, a lighter reply queue and compiled scripts kept."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.responses = queue.SimpleQueue()
        self._streaming = False  # once a write ends mid-command, fakeredis' parser takes every later byte

    def sendall(self, data) -> None:
        if self._streaming or not self._server.connected or self._killed or self._paused:
            return super().sendall(data)
        commands = whole_commands(data.encode("ascii") if isinstance(data, str) else bytes(data))
        if commands is None:
            self._streaming = True
            return super().sendall(data)
        for fields in commands:
            self._process_command(fields)

    def _get_server_runtime(self, server):
        runtime = super()._get_server_runtime(server)
        kept = getattr(server, "_embedded_scripts", None)
        if kept is None:
            kept = server._embedded_scripts = CompiledScripts(runtime)
        return kept

    def _lua_redis_call(self, lua_runtime, expected_globals, op, *args):
        """fakeredis' redis.call without its scan of every Lua global first (done once, after the script)."""
        name = lua.decode_command_bytes(op)
        if name in lua.COMMANDS_WITH_SUB and args:
            name += " " + lua.decode_command_bytes(lua._convert_redis_arg(args[0]))
            args = args[1:]
        func, signature = self._name_to_func(name)
        if func is None:
            raise lua.SimpleError(lua.msgs.WRONG_ARGS_MSG7)
        result = self._run_command(func, signature, [lua._convert_redis_arg(arg) for arg in args], True)
        return self._convert_redis_result(lua_runtime, result)


class CompiledScripts:
    """Stands in for the server's Lua runtime: each script text compiled once, no full GC per script."""

    def __init__(self, runtime):
        self._runtime = runtime
        self._chunks: dict = {}
        self.table_from = runtime.table_from

    def execute(self, code):
        if code == FULL_COLLECTION:
            return None  # Lua's incremental collector frees each script's KEYS and ARGV tables
        chunk = self._chunks.get(code)
        if chunk is None:
            try:
                chunk = self._runtime.compile(code)
            except lua.LUA_MODULE.LuaSyntaxError:
                return self._runtime.execute(code)  # raises the error fakeredis words and reports
            if len(self._chunks) >= KEPT_SCRIPTS:
                self._chunks.clear()
            self._chunks[code] = chunk
        return chunk()

    def __getattr__(self, name):
        return getattr(self._runtime, name)


def whole_commands(data: bytes) -> list[list[bytes]] | None:
    """The RESP arrays of bulk strings in `data`, if it holds only whole ones (as redis-py writes); else None."""
    commands, at, end = [], 0, len(data)
    try:
        while at < end:
            count, at = _header(data, at, 42)  # "*"
            fields = []
            for _ in range(count):
                size, at = _header(data, at, 36)  # "$"
                if size < 0 or data[at + size:at + size + 2] != b"\r\n":
                    return None
                fields.append(data[at:at + size])
                at += size + 2
            commands.append(fields)
    except ValueError:
        return None
    return commands


def _header(data: bytes, at: int, marker: int) -> tuple[int, int]:
    """The number in a "*N" or "$N" line at `at`, and where the next part starts; ValueError if it is not one."""
    if at >= len(data) or data[at] != marker:
        raise ValueError("not a whole command")
    stop = data.index(b"\r\n", at)
    return int(data[at + 1:stop]), stop + 2
