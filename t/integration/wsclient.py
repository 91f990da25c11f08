"""WebSocket clients for the integration tests.

RawWS: a hand-made client over a plain socket, for malformed input: the
handshake written byte by byte, frames with any fin/rsv/opcode/mask/length,
server frames read as they are. Every socket operation has a timeout.

chat(): a well-behaved client (the websockets library, asyncio API) that
reads the hello frame; request()/assert_alive() for JSON exchanges.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
import time
from urllib.parse import urlencode

import websockets

from harness import token as make_token

TIMEOUT = 5.0
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def chat_path(path="/chat", **query):
    query = {k: v for k, v in query.items() if v is not None}
    return path + ("?" + urlencode(query, safe="$") if query else "")


# ---------------------------------------------------------------- handshake

def upgrade_request(path="/chat", token=None, headers=None, method="GET",
                    version="HTTP/1.1", port=None):
    """Request bytes and the Sec-WebSocket-Key. headers override the
    defaults; a None value removes that header."""
    key = new_key()
    h = {"Host": "127.0.0.1:%s" % port if port else "127.0.0.1",
         "Upgrade": "websocket",
         "Connection": "Upgrade",
         "Sec-WebSocket-Key": key,
         "Sec-WebSocket-Version": "13"}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if method != "GET":
        h["Content-Length"] = "0"
    for name, value in (headers or {}).items():
        h.pop(next((n for n in h if n.lower() == name.lower()), name), None)
        if value is not None:
            h[name] = value
    lines = ["%s %s %s" % (method, path, version)]
    lines += ["%s: %s" % kv for kv in h.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), h.get("Sec-WebSocket-Key")


class Response:
    def __init__(self, status, headers, rest):
        self.status = status
        self.headers = headers  # lower-case name -> list of values
        self.rest = rest        # bytes read past the header block

    def header(self, name):
        values = self.headers.get(name.lower())
        return None if values is None else ", ".join(values)

    def __repr__(self):
        return "<Response %s %r>" % (self.status, self.headers)


def read_response(sock, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no HTTP response within %.1fs: %r" % (timeout, buf))
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before a full HTTP response: %r" % buf)
        buf += chunk
        if len(buf) > 65536:
            raise AssertionError("HTTP response header too long")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Response(status, headers, rest)


def http_exchange(port, request, extra=b"", timeout=TIMEOUT):
    """Sends request (+ extra in the same write); returns (socket, Response)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(request + extra)
        return sock, read_response(sock, timeout)
    except BaseException:
        sock.close()
        raise


def handshake_status(port, **kw):
    """Status of an upgrade request built by upgrade_request(**kw)."""
    request, _ = upgrade_request(port=port, **kw)
    sock, resp = http_exchange(port, request)
    sock.close()
    return resp


# ---------------------------------------------------------------- frames

def mask_bytes(data, key):
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None,
          key=None):
    """A client frame. length overrides the declared payload length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    out = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        out += bytes([mbit | n])
    elif n < 65536:
        out += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        out += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = key or os.urandom(4)
        out += key + mask_bytes(payload, key)
    else:
        out += payload
    return out


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def text_frame(obj, **kw):
    data = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
    return frame(OP_TEXT, data, **kw)


class Frame:
    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    def json(self):
        assert self.opcode == OP_TEXT, "expected a text frame, got %r" % self
        return json.loads(self.payload.decode("utf-8"))

    def close_code(self):
        """(code, reason) of a close frame; code None when it has none."""
        assert self.opcode == OP_CLOSE
        if len(self.payload) < 2:
            return None, ""
        return (struct.unpack("!H", self.payload[:2])[0],
                self.payload[2:].decode("utf-8", "replace"))

    def __repr__(self):
        return "<Frame fin=%d op=%#x %r>" % (self.fin, self.opcode, self.payload[:80])


class Closed(Exception):
    """The server closed the TCP connection (EOF or reset)."""


class RawWS:
    def __init__(self, sock, rest=b"", response=None):
        self.sock = sock
        self.buf = rest
        self.response = response
        self.hello = None

    @classmethod
    def connect(cls, port, token=None, path="/chat", headers=None, extra=b"",
                read_hello=True, sock=None):
        """Upgrades a connection (asserting 101 and the accept value) and
        reads the hello frame. token defaults to a valid one for alice."""
        if token is None:
            token = make_token()
        request, key = upgrade_request(path, token=token, headers=headers, port=port)
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        try:
            sock.sendall(request + extra)
            resp = read_response(sock)
        except BaseException:
            sock.close()
            raise
        if resp.status != 101:
            sock.close()
            raise AssertionError("upgrade refused: %r" % resp)
        assert resp.header("Sec-WebSocket-Accept") == accept_for(key), resp
        ws = cls(sock, resp.rest, resp)
        if read_hello:
            ws.hello = ws.recv_json()
            assert ws.hello.get("type") == "hello", ws.hello
        return ws

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending

    def send_raw(self, data):
        self.sock.settimeout(TIMEOUT)
        self.sock.sendall(data)

    def send(self, opcode, payload=b"", **kw):
        self.send_raw(frame(opcode, payload, **kw))

    def send_json(self, obj, **kw):
        self.send_raw(text_frame(obj, **kw))

    def send_close(self, code=None, reason=b""):
        self.send(OP_CLOSE, close_payload(code, reason))

    # -- receiving

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no data from the server in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed("server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_frame(self, timeout=TIMEOUT):
        """The next server frame; raises Closed on EOF, socket.timeout."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._read(2, deadline)
        assert not b1 & 0x80, "server frame is masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8, deadline))[0]
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F,
                     self._read(n, deadline))

    def recv_message(self, timeout=TIMEOUT, answer_pings=True):
        """The next text frame, skipping pongs and answering pings."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f.opcode == OP_PING and answer_pings:
                self.send(OP_PONG, f.payload)
            elif f.opcode in (OP_PING, OP_PONG):
                continue
            elif f.opcode == OP_CLOSE:
                raise AssertionError("unexpected close %r" % (f.close_code(),))
            else:
                assert f.fin and f.opcode == OP_TEXT, "unexpected frame %r" % f
                return f

    def recv_json(self, timeout=TIMEOUT):
        return self.recv_message(timeout).json()

    def request(self, obj):
        self.send_json(obj)
        return self.recv_json()

    def assert_alive(self, id="alive", timeout=TIMEOUT):
        """The connection answers a ping with its pong. Frames that arrive
        first are skipped (a late copy of one's own message, a presence
        change), except an error."""
        self.send_json({"type": "ping", "id": id})
        deadline = time.monotonic() + timeout
        while True:
            reply = self.recv_json(max(deadline - time.monotonic(), 0.01))
            if reply.get("type") == "pong" and reply.get("id") == id:
                return
            assert reply.get("type") != "error", reply

    def expect_close(self, timeout=TIMEOUT):
        """Reads until the server's close frame, answers it, waits for EOF;
        returns (code, reason)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            except Closed:
                raise AssertionError("connection closed without a close frame") from None
            if f.opcode == OP_CLOSE:
                break
        code, reason = f.close_code()
        with contextlib.suppress(OSError):
            self.send_close(code)
        self.expect_eof(max(1.0, deadline - time.monotonic()))
        return code, reason

    def expect_eof(self, timeout=TIMEOUT):
        """Reads (and drops) frames until the server closes TCP."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.recv_frame(max(0.0, deadline - time.monotonic()))
        except Closed:
            return
        except socket.timeout:
            raise AssertionError("server did not close the connection within %.1fs"
                                 % timeout) from None


# ---------------------------------------------------------------- websockets

def ws_uri(port, path="/chat", host="127.0.0.1", **query):
    return "ws://%s:%d%s" % (host, port, chat_path(path, **query))


@contextlib.asynccontextmanager
async def chat(port, sub="alice", token=None, device=None, headers=None,
               host="127.0.0.1", **kw):
    """A connected websockets client and its hello frame (of the nginx on
    host:port)."""
    if token is None:
        token = make_token(sub)
    h = {"Authorization": "Bearer " + token}
    h.update(headers or {})
    ws = await websockets.connect(ws_uri(port, host=host, device=device), extra_headers=h,
                                  max_size=2 ** 20, ping_interval=None,
                                  open_timeout=TIMEOUT, close_timeout=2, **kw)
    try:
        hello = await recv_json(ws)
        assert hello.get("type") == "hello", hello
        yield ws, hello
    finally:
        await ws.close()


async def recv_json(ws, timeout=TIMEOUT):
    msg = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(msg, str), "expected a text message, got %r" % (msg,)
    return json.loads(msg)


async def request(ws, obj, timeout=TIMEOUT):
    """Sends obj (a str as is, else as JSON); returns the next message."""
    await ws.send(obj if isinstance(obj, str) else json.dumps(obj))
    return await recv_json(ws, timeout)


async def assert_alive(ws, id="alive"):
    reply = await request(ws, {"type": "ping", "id": id})
    assert reply.get("type") == "pong" and reply.get("id") == id, reply


async def expect_closed(ws, timeout=TIMEOUT):
    """Waits (at most timeout) for the server to close, dropping messages;
    returns the ConnectionClosed exception."""
    async def drain():
        try:
            while True:
                await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            return e
    return await asyncio.wait_for(drain(), timeout)
