"""The embedded default's Redis: fakeredis, with its slowest per-call steps done once instead of every call.

fakeredis re-parses every RESP write with a generator that slices its buffer field by
field, answers through a locking queue.Queue, compiles each script's Lua text on every
EVALSHA, forces a full Lua garbage collection after it, and scans the Lua globals before
every redis.call inside it. Here, on the same fakeredis server and command code:

    write  -> whole commands parsed by hiredis, in C (anything else: fakeredis' own parser)
    reply  -> queue.SimpleQueue (the same put/get/qsize, without a Condition per call); its
              "ready" Event set only when a reader cleared it
    script -> its compiled chunk kept per text; collected by Lua's incremental GC;
              globals checked after the script, as fakeredis does, not before each call
    client -> arguments of exact str/bytes/int/float types packed, and bytes/list replies
              decoded, without redis-py's and fakeredis' chains of checks

Replies, errors, MULTI/EXEC, pub/sub and script atomicity (a script runs under the
server's lock, inside one command) are fakeredis' own: only the plumbing around them changed.
It subclasses fakeredis internals (as of 2.41); tests/test_embedded.py holds its replies and
errors to a plain fakeredis client's, so a fakeredis that changed them fails there first.
"""

from __future__ import annotations

import queue

import fakeredis
import hiredis
from fakeredis import _msgs as msgs
from fakeredis._clients._sync import FakeRedisConnection
from fakeredis._commands import Key, Signature
from fakeredis._core import CommandItem
from fakeredis._helpers import SimpleError
from fakeredis._socket import FakeSocket
from fakeredis.commands_mixins import scripting_mixin as lua

FULL_COLLECTION = "collectgarbage()"  # what fakeredis runs after every script
KEPT_SCRIPTS = 256  # compiled chunks kept per server (the library has a handful; EVAL of many texts starts afresh)


def make_client(**options) -> fakeredis.FakeRedis:
    """A client of a private in-process server whose connections take the short path."""
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), connection_class=EmbeddedConnection, **options)


class EmbeddedConnection(FakeRedisConnection):
    """A redis-py connection to fakeredis whose socket is an EmbeddedSocket and whose packer is lean."""

    def _construct_command_packer(self, packer):
        return packer or LeanPacker(super()._construct_command_packer(None), self.encoder)

    def _decode(self, response):
        """fakeredis' reply decoding, with its two common shapes (bytes, a list) taken first."""
        kind = type(response)
        if kind is bytes:
            encoder = self.encoder
            return response.decode(encoder.encoding, encoder.encoding_errors) if encoder.decode_responses else response
        if kind is list and self.encoder.decode_responses:
            return [self._decode(item) for item in response]
        return super()._decode(response)

    def _connect(self) -> "EmbeddedSocket":
        if not self._server.connected:
            raise self._connection_error_class(lua.msgs.CONNECTION_ERROR_MSG)
        return EmbeddedSocket(self._server, client_class=self._client_class, db=self.db,
                              lua_modules=self._lua_modules, client_info=self._client_info)


class LeanPacker:
    """redis-py's RESP packing, with arguments of the common exact types encoded without its chain of checks.

    Anything else (memoryviews, a first argument naming a subcommand, a wrong type) goes to
    redis-py's own packer, which encodes it or raises DataError as usual.
    """

    def __init__(self, packer, encoder):
        self._packer = packer
        self._encoding = encoder.encoding
        self._errors = encoder.encoding_errors

    def pack(self, *args):
        if type(args[0]) is str and " " not in args[0]:
            encoded = [_encoded(arg, self._encoding, self._errors) for arg in args]
            if None not in encoded:
                return [hiredis.pack_command(tuple(encoded))]
        return self._packer.pack(*args)


def _encoded(arg, encoding: str, errors: str) -> bytes | None:
    """As redis-py's Encoder.encode for exact str, bytes, int and float (bool is not an int here); else None."""
    kind = type(arg)
    if kind is str:
        return arg.encode(encoding, errors)
    if kind is bytes:
        return arg
    if kind is int or kind is float:
        return repr(arg).encode()
    return None


class EmbeddedSocket(FakeSocket):
    """fakeredis' socket with a one-pass parser, a lighter reply queue and compiled scripts kept."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.responses = queue.SimpleQueue()
        self._handlers: dict = {}  # command name -> (bound method, PlannedSignature)
        self._streaming = False  # once a write ends mid-command, fakeredis' parser takes every later byte

    def sendall(self, data) -> None:
        if self._streaming or not self._server.connected or self._killed or self._paused:
            return super().sendall(data)
        commands = whole_commands(data.encode("ascii") if isinstance(data, str) else data)
        if commands is None:
            self._streaming = True
            return super().sendall(data)
        for fields in commands:
            self._process_command(fields)

    def put_response(self, msg) -> None:
        """fakeredis' put_response, without setting an Event that is set already (a reader clears it before it waits)."""
        responses = self.responses
        if responses is not None:
            responses.put(msg)
            if not self.response_ready.is_set():
                self.response_ready.set()

    def _name_to_func(self, cmd_name: str):
        """fakeredis' lookup of a command's method and signature, done once per name (unknown names raise, uncached)."""
        found = self._handlers.get(cmd_name)
        if found is None:
            func, signature = super()._name_to_func(cmd_name)
            found = self._handlers[cmd_name] = (func, planned(signature))
        return found

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


_PLANNED: dict = {}  # fakeredis Signature -> its PlannedSignature, shared by every server


def planned(signature: Signature) -> "PlannedSignature":
    """The PlannedSignature standing in for `signature` (one per command, made on first use)."""
    found = _PLANNED.get(signature)
    if found is None:
        found = _PLANNED[signature] = PlannedSignature(signature)
    return found


class PlannedSignature(Signature):
    """A fakeredis Signature whose apply works out, once per argument count, which arguments are keys and converters.

    fakeredis' Signature.apply rebuilds the list of argument types and tests each with
    isinstance on every call; this one walks the same passes, in the same order, over a
    plan kept per count (only counts that passed the arity check are planned).
    """

    def __init__(self, signature: Signature):
        self.__dict__.update(signature.__dict__)
        self._plans: dict = {}
        self._creates = msgs.FLAG_DO_NOT_CREATE not in self.flags

    def apply(self, args, db, version):
        plan = self._plans.get(len(args))
        if plan is None:
            self.check_arity(args, version)
            plan = self._plans[len(args)] = self._plan(len(args))
        first_pass, key_types = plan
        args_list = list(args)
        for index, type_, is_key in first_pass:
            if is_key:
                if args_list[index] not in db:
                    return (type_.missing_return,)
            else:
                args_list[index] = type_.decode(args_list[index])
        command_items = []
        for index, type_ in key_types:
            item = self._command_item(args_list[index], type_, db)
            args_list[index] = item
            command_items.append(item)
        return args_list, command_items

    def _command_item(self, key, type_: Key, db) -> CommandItem:
        """As fakeredis' second pass: the key's item, checked against the type its command expects."""
        item = db.get(key)
        expected = type_.type_
        default = None
        if expected is not None and item is not None and type(item.value) is not expected:
            raise SimpleError(msgs.WRONGTYPE_MSG)
        if self._creates and expected is not None and item is None and expected is not bytes:
            default = expected()
        return CommandItem(key, db, item, default=default)

    def _plan(self, count: int) -> tuple[tuple, tuple]:
        """(first-pass steps: index, type, is-a-key-to-test; keys: index, Key) for `count` arguments."""
        types = list(self.fixed)
        types.extend([self.repeat[i % len(self.repeat)] for i in range(count - len(types))])
        first_pass, key_types = [], []
        for index, type_ in enumerate(types):
            if isinstance(type_, Key):
                key_types.append((index, type_))
                if type_.missing_return is not Key.UNSPECIFIED:
                    first_pass.append((index, type_, True))
            elif type_ is not bytes:
                first_pass.append((index, type_, False))
        return tuple(first_pass), tuple(key_types)


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
    """The RESP arrays of bulk strings in `data`, if it holds only whole ones (as redis-py writes); else None.

    hiredis' reply parser reads them (a command is an array of bulk strings, like a reply), in C.
    """
    reader = hiredis.Reader()
    reader.feed(data)
    commands = []
    try:
        while (command := reader.gets()) is not False:
            if type(command) is not list or any(type(field) is not bytes for field in command):
                return None
            commands.append(command)
    except hiredis.ProtocolError:
        return None
    return None if reader.has_data() else commands
