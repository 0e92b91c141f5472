#!/usr/bin/env python3
"""test_xmpp_federation.py EDGEPROXY [SRCDIR] - the XMPP federation proxy end to end with real
peers on loopback, every one started here and stopped by its PID:

  contoso.test   Prosody as the internal XMPP gateway stand-in: it sends its s2s traffic for
                 every partner to the edge's xmpp-gateway listener (mutual TLS) and accepts the
                 edge's per-pair streams on its own s2s port
  fabrikam.test  Prosody as a partner with a certificate from the CA the edge trusts: SASL
                 EXTERNAL both ways; the edge reaches it by direct TLS (_xmpps-server)
  northwind.test Prosody as a partner whose certificate comes from a CA the edge does not trust
                 (and which does not trust ours): dialback both ways, STARTTLS
  two dnsmasq    the external view (partners find contoso.test at the edge's 5269-style port,
                 the edge finds the partners) and the internal view (the gateway finds every
                 partner at the edge's xmpp-gateway port); Prosody is pointed at its resolver by
                 a test plugin (mod_testdns: Prosody 0.12's resolver reads /etc/resolv.conf and
                 port 53 only), the edge by [xmpp] dns_servers
  slixmpp        one client per domain: messages both ways, presence subscription

Then raw s2s clients (stdlib socket/ssl) for the refusals, each asserted by its stream error:
unknown host, partner not allowed, blocked partner, from-domain spoofing, a certificate from an
untrusted CA, a non-gateway certificate on the gateway port, every hostile file of
tests/corpus/xmpp/invalid/, and a SIGHUP reload of the lists. Every wait is bounded.
"""
import asyncio
import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

if __name__ == "__main__":
    try:
        import slixmpp  # noqa: F401
    except ImportError:  # Debian's python3-slixmpp is for the system interpreter
        if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
                os.path.realpath("/usr/bin/python3"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
        raise

import slixmpp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402
from xmpp_peers import prosody_config, start_dnsmasq, start_prosody  # noqa: E402

EDGE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
SRCDIR = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.dirname(
    os.path.dirname(HERE))
CORPUS = os.path.join(SRCDIR, "tests", "corpus", "xmpp")
KEEP = os.environ.get("KEEP_WORK") == "1"
HOST = "127.0.0.1"

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_ERR = "urn:ietf:params:xml:ns:xmpp-streams"

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


# ---------------------------------------------------------------- the topology

class Topology:
    pass


def setup(work):
    t = Topology()
    t.work = work
    t.certs = peers.Certs(work.file("certs"))
    r = subprocess.run([os.path.join(HERE, "mkcerts_xmpp.sh"), t.certs.path],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("mkcerts_xmpp.sh: " + (r.stdout + r.stderr).decode())
    c = t.certs
    p = peers.free_port
    t.edge_ext, t.edge_gw = p(), p()
    t.dns_ext, t.dns_int = p(), p()
    t.gw_s2s, t.gw_direct, t.gw_c2s = p(), p(), p()
    t.fab_s2s, t.fab_direct, t.fab_c2s = p(), p(), p()
    t.nw_s2s, t.nw_c2s = p(), p()
    # the external view: partners find the edge; the edge finds the partners
    t.dnsmasq_ext = start_dnsmasq(work, "dnsmasq-ext", t.dns_ext, [
        ("srv", "_xmpp-server._tcp.contoso.test", "edge.contoso.test", t.edge_ext),
        ("host", "edge.contoso.test", HOST),
        ("srv", "_xmpp-server._tcp.montague.example", "edge.contoso.test", t.edge_ext),
        ("srv", "_xmpps-server._tcp.fabrikam.test", "xmpp.fabrikam.test", t.fab_direct),
        ("srv", "_xmpp-server._tcp.fabrikam.test", "xmpp.fabrikam.test", t.fab_s2s),
        ("host", "xmpp.fabrikam.test", HOST),
        ("srv", "_xmpp-server._tcp.northwind.test", "xmpp.northwind.test", t.nw_s2s),
        ("host", "xmpp.northwind.test", HOST),
    ])
    # the internal view: the gateway sends every partner's traffic to the edge
    t.dnsmasq_int = start_dnsmasq(work, "dnsmasq-int", t.dns_int, [
        ("srv", "_xmpps-server._tcp.fabrikam.test", "edge-int.contoso.test", t.edge_gw),
        ("srv", "_xmpp-server._tcp.northwind.test", "edge-int.contoso.test", t.edge_gw),
        ("srv", "_xmpp-server._tcp.tailspin.test", "edge-int.contoso.test", t.edge_gw),
        ("host", "edge-int.contoso.test", HOST),
    ])
    t.allow = work.file("partners.allow")
    t.block = work.file("partners.block")
    with open(t.allow, "w") as f:
        f.write("# test partners\nfabrikam.test auth=sasl\nnorthwind.test auth=dialback\n"
                "capulet.example tls=optional\nevil.test\n")
    with open(t.block, "w") as f:
        f.write("evil.test\n")
    t.edge_conf = work.file("edge.conf")
    state = work.file("state")
    with open(t.edge_conf, "w") as f:
        f.write(f"""[node]
id = edge1
external_fqdn = edge.contoso.test
state_dir = {state}

[listener xmpp-ext]
address = {HOST}:{t.edge_ext}
side = external
protocol = xmpp-s2s
cert = {c.pem('edge-s2s')}
key = {c.key('edge-s2s')}
ca = {c.ca}

[listener xmpp-gw]
address = {HOST}:{t.edge_gw}
side = internal
protocol = xmpp-gateway
cert = {c.pem('edge-gw')}
key = {c.key('edge-gw')}
ca = {c.ca}

[xmpp]
domains = contoso.test, montague.example
gateway = {HOST}:{t.gw_direct}
gateway_direct_tls = yes
gateway_name = gateway.contoso.test
allow_file = {t.allow}
block_file = {t.block}
dns_servers = {HOST}:{t.dns_ext}
idle_timeout = 60s
connect_timeout = 10s

[limits]
connections_per_source = 12

[log]
level = debug
""")
    t.edge = peers.start([EDGE, "--config", t.edge_conf], "edge", work,
                         ready=("port", HOST, t.edge_gw), timeout=10)
    t.gw = start_prosody(work, "gateway", prosody_config(
        work, "gateway", "contoso.test", c.pem("gateway"), c.key("gateway"), c.ca, t.gw_s2s,
        t.gw_c2s, t.dns_int, direct_port=t.gw_direct), t.gw_c2s,
        [("alice", "contoso.test", "alicepw")])
    t.fab = start_prosody(work, "fabrikam", prosody_config(
        work, "fabrikam", "fabrikam.test", c.pem("fabrikam"), c.key("fabrikam"), c.ca, t.fab_s2s,
        t.fab_c2s, t.dns_ext, direct_port=t.fab_direct), t.fab_c2s,
        [("bob", "fabrikam.test", "bobpw")])
    t.nw = start_prosody(work, "northwind", prosody_config(
        work, "northwind", "northwind.test", c.pem("northwind"), c.key("northwind"),
        c.path + "/rogue-ca.pem", t.nw_s2s, t.nw_c2s, t.dns_ext), t.nw_c2s,
        [("carol", "northwind.test", "carolpw")])
    return t


# ---------------------------------------------------------------- clients (slixmpp)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, port, cafile):
        super().__init__(jid, password)
        self.port = port
        self.ssl_context = ssl.create_default_context(cafile=cafile)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.inbox = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.ready = asyncio.Event()
        self.auto_authorize = True
        self.auto_subscribe = True
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("message", self._message)
        self.add_event_handler("message_error", self._message)
        self.add_event_handler("presence_subscribed", self._presence)
        self.add_event_handler("presence_available", self._presence)
        self.add_event_handler("presence_subscribe", self._presence)

    async def _start(self, event):
        self.send_presence()
        await self.get_roster()
        self.ready.set()

    def _message(self, msg):
        if msg["type"] in ("chat", "normal", "error"):
            self.inbox.put_nowait(msg)

    def _presence(self, p):
        self.presences.put_nowait(p)

    def go(self):
        self.connect((HOST, self.port))


async def wait_queue(queue, pred, timeout):
    """The first item of an asyncio queue for which pred holds, or None at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            item = await asyncio.wait_for(queue.get(), left)
        except asyncio.TimeoutError:
            return None
        if pred(item):
            return item


async def wait_message(client, sender_bare, body, timeout):
    return await wait_queue(client.inbox,
                            lambda m: m["from"].bare == sender_bare and m["body"] == body, timeout)


async def wait_presence(client, pred, timeout):
    return await wait_queue(client.presences, pred, timeout)


async def messaging(t):
    c = t.certs
    alice = Client("alice@contoso.test/t", "alicepw", t.gw_c2s, c.ca)
    bob = Client("bob@fabrikam.test/t", "bobpw", t.fab_c2s, c.ca)
    carol = Client("carol@northwind.test/t", "carolpw", t.nw_c2s, c.path + "/rogue-ca.pem")
    clients = [alice, bob, carol]
    for cl in clients:
        cl.go()
    try:
        await asyncio.wait_for(asyncio.gather(*(cl.ready.wait() for cl in clients)), 20)
    except asyncio.TimeoutError:
        check(False, "slixmpp clients logged in to their Prosody servers")
        return
    check(True, "slixmpp clients logged in to their Prosody servers")

    async def exchange(a, b, label, timeout=25):
        body = f"hello from {a.boundjid.bare} to {b.boundjid.bare} ({label})"
        a.send_message(mto=b.boundjid.bare, mbody=body, mtype="chat")
        m = await wait_message(b, a.boundjid.bare, body, timeout)
        check(m is not None, f"message {a.boundjid.bare} -> {b.boundjid.bare} ({label})")

    # outbound first (gateway -> edge -> partner), then inbound (partner -> edge -> gateway)
    await exchange(alice, bob, "SASL EXTERNAL partner, outbound")
    await exchange(bob, alice, "SASL EXTERNAL partner, inbound")
    await exchange(alice, carol, "dialback partner, outbound")
    await exchange(carol, alice, "dialback partner, inbound")
    # a burst, in order, both ways
    n = 50
    for i in range(n):
        bob.send_message(mto="alice@contoso.test", mbody=f"burst {i}", mtype="chat")
    got = []
    deadline = time.monotonic() + 20
    while len(got) < n and time.monotonic() < deadline:
        try:
            m = await asyncio.wait_for(alice.inbox.get(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if m["body"].startswith("burst "):
            got.append(int(m["body"].split()[1]))
    check(got == list(range(n)), f"{n} messages fabrikam -> contoso arrive in order ({len(got)})")

    # presence subscription across the edge (bob's client approves and subscribes back)
    alice.send_presence(pto="bob@fabrikam.test", ptype="subscribe")
    p = await wait_presence(alice, lambda p: p["type"] == "subscribed" and
                            p["from"].bare == "bob@fabrikam.test", 20)
    check(p is not None, "presence subscription alice -> bob approved (subscribed)")
    p = await wait_presence(alice, lambda p: p["type"] in ("available", "") and
                            p["from"].bare == "bob@fabrikam.test", 20)
    check(p is not None, "alice sees bob's presence")
    p = await wait_presence(bob, lambda p: p["type"] in ("available", "") and
                            p["from"].bare == "alice@contoso.test", 20)
    check(p is not None, "bob sees alice's presence (mutual subscription)")
    for cl in clients:
        cl.disconnect()
    await asyncio.sleep(0.3)


# ---------------------------------------------------------------- raw s2s clients


def header(frm, to, db=True):
    return (f"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            f"xmlns:stream='{NS_STREAMS}'" + (" xmlns:db='jabber:server:dialback'" if db else "") +
            (f" from='{frm}'" if frm else "") + f" to='{to}' version='1.0'>").encode()


class Raw:
    """A blocking s2s connection that reads until a pattern or the end, with deadlines. TLS runs
    over memory BIOs on the TCP socket, so the TCP stream can be half-closed (end of input)
    while the edge's answer is still read and decrypted."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self.tls = None

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def wrap(self, ctx, server_hostname, timeout=10, server_side=False):
        """TLS from here on (after <proceed/>, or at once for direct TLS)."""
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                server_hostname=None if server_side else server_hostname)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("TLS handshake")
                self.sock.settimeout(left)
                data = self.sock.recv(65536)
                if not data:
                    raise ssl.SSLError("connection closed during the handshake")
                self.incoming.write(data)

    def send(self, data):
        data = data if isinstance(data, bytes) else data.encode()
        if self.tls:
            self.tls.write(data)
            self._flush()
        else:
            self.sock.sendall(data)

    def end_input(self):
        """TCP half-close: the edge sees the end of its input, we can still read."""
        self.sock.shutdown(socket.SHUT_WR)

    def _recv(self, timeout):
        if self.tls:  # plaintext that came with the handshake's last flight is already here
            try:
                got = self.tls.read(65536)
                if got:
                    return got
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not self.tls or not data:
            return data
        self.incoming.write(data)
        out = b""
        for _ in range(10000):
            try:
                got = self.tls.read(65536)
                if not got:  # close_notify
                    return out
                out += got
            except ssl.SSLWantReadError:
                return out if out else b"\0"  # a record not complete yet: not the end
            except ssl.SSLZeroReturnError:
                return out
        return out

    def read_until(self, pattern, timeout=10):
        """Read until pattern (bytes regex) matches the buffer (returns the match) or the
        connection ends or the deadline passes (None)."""
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                chunk = self._recv(left)
            except (socket.timeout, TimeoutError, ssl.SSLError, OSError):
                return None
            if not chunk:
                return rx.search(self.buf)
            if chunk != b"\0":
                self.buf += chunk

    def stream_error(self, timeout=10):
        m = self.read_until(rb"<stream:error>\s*<([a-z-]+)\s+xmlns=['\"]" +
                            re.escape(NS_ERR.encode()), timeout)
        return m.group(1).decode() if m else None

    def closed(self, timeout=5):
        """True once the peer has ended the stream (</stream:stream>) and the connection."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self._recv(max(0.05, deadline - time.monotonic()))
            except (socket.timeout, TimeoutError):
                return False
            except (ssl.SSLError, OSError):
                return b"</stream:stream>" in self.buf
            if not chunk:
                return b"</stream:stream>" in self.buf
            if chunk != b"\0":
                self.buf += chunk
        return False

    def starttls(self, ctx, server_hostname):
        self.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        if not self.read_until(rb"<proceed[^>]*/>"):
            raise RuntimeError("no <proceed/>: " + self.buf.decode(errors="replace"))
        self.wrap(ctx, server_hostname)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_ctx(certs, name=None, ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if name:
        ctx.load_cert_chain(certs.pem(name), certs.key(name))
    return ctx


def sasl_external(raw, t, frm, to, cert, restart=True):
    """Open a stream from frm to to on the edge's partner port, STARTTLS with cert, SASL EXTERNAL
    and (restart) the new stream; returns after the features of the authenticated stream, or
    after <success/> without restart (None on failure)."""
    raw.send(header(frm, to))
    if not raw.read_until(rb"</stream:features>"):
        return None
    raw.starttls(client_ctx(t.certs, cert), to)
    raw.send(header(frm, to))
    if not raw.read_until(rb"</stream:features>"):
        return None
    if b"EXTERNAL" not in raw.buf:
        return None
    raw.send(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" +
             base64.b64encode(frm.encode()) + b"</auth>")
    m = raw.read_until(rb"<success[^>]*/>|<success[^>]*>.*?</success>")
    if not m or not restart:
        return m
    raw.buf = b""
    raw.send(header(frm, to))
    return raw.read_until(rb"</stream:features>")


def refusal(t, what, data, want, tls=None, frm=None, to=None, port=None):
    raw = Raw(port or t.edge_ext)
    try:
        if tls:
            raw.send(header(frm, to))
            raw.read_until(rb"</stream:features>")
            raw.starttls(client_ctx(t.certs, tls), to)
        raw.send(data)
        got = raw.stream_error()
        ok = got in want if isinstance(want, (list, tuple)) else got == want
        check(ok, f"{what}: <{want}/> (got {got})")
        check(raw.closed(), f"{what}: stream and connection closed after the error")
    finally:
        raw.close()


def refusals(t):
    refusal(t, "unknown host", header("fabrikam.test", "unknown.test"), "host-unknown")
    refusal(t, "partner not allowed", header("tailspin.test", "contoso.test"), "policy-violation")
    refusal(t, "blocked partner (allowed and blocked: the block wins)",
            header("evil.test", "contoso.test"), "policy-violation")
    refusal(t, "certificate from an untrusted CA (fabrikam.test requires SASL EXTERNAL)",
            header("fabrikam.test", "contoso.test"), "not-authorized", tls="rogue-fabrikam",
            frm="fabrikam.test", to="contoso.test")
    # from-domain spoofing on a stream authenticated for fabrikam.test
    raw = Raw(t.edge_ext)
    try:
        ok = sasl_external(raw, t, "fabrikam.test", "contoso.test", "fabrikam")
        check(ok is not None, "raw partner: STARTTLS + SASL EXTERNAL as fabrikam.test")
        raw.send(b"<message from='mallory@evil.test' to='alice@contoso.test' type='chat'>"
                 b"<body>spoofed</body></message>")
        got = raw.stream_error()
        check(got == "invalid-from", f"from-domain spoofing: <invalid-from/> (got {got})")
        check(raw.closed(), "from-domain spoofing: stream and connection closed")
    finally:
        raw.close()
    # direct TLS (XEP-0368) on the partner port, ALPN xmpp-server
    raw = Raw(t.edge_ext)
    try:
        ctx = client_ctx(t.certs, "fabrikam")
        ctx.set_alpn_protocols(["xmpp-server"])
        raw.wrap(ctx, "contoso.test")
        check(raw.tls.selected_alpn_protocol() == "xmpp-server",
              "direct TLS on the partner port negotiates ALPN xmpp-server")
        raw.send(header("fabrikam.test", "contoso.test"))
        m = raw.read_until(rb"</stream:features>")
        check(m is not None and b"EXTERNAL" in raw.buf and b"starttls" not in raw.buf,
              "direct TLS: features offer SASL EXTERNAL, no STARTTLS")
        raw.send(b"</stream:stream>")
        check(raw.closed(), "direct TLS: </stream:stream> answered and the connection closed")
    finally:
        raw.close()
    # the gateway port: mutual TLS, and only the gateway's certificate
    raw = Raw(t.edge_gw)
    try:
        raw.send(header("contoso.test", "fabrikam.test"))
        raw.read_until(rb"</stream:features>")
        try:
            raw.starttls(client_ctx(t.certs, "rogue-gateway"), "fabrikam.test")
            raw.send(header("contoso.test", "fabrikam.test"))
            got = raw.read_until(rb"</stream:features>", timeout=5)
            check(got is None, "gateway port: a certificate from an untrusted CA is refused")
        except (ssl.SSLError, OSError, RuntimeError):
            check(True, "gateway port: a certificate from an untrusted CA is refused")
    finally:
        raw.close()
    refusal(t, "gateway port: a trusted certificate that is not the gateway's",
            header("contoso.test", "fabrikam.test"), "not-authorized", tls="fabrikam",
            frm="contoso.test", to="fabrikam.test", port=t.edge_gw)
    refusal(t, "gateway port: a stream to a partner that is not allowed",
            header("contoso.test", "tailspin.test"), "policy-violation", tls="gateway",
            frm="contoso.test", to="tailspin.test", port=t.edge_gw)


def corpus(t):
    """Every hostile input of tests/corpus/xmpp/invalid on the partner port, each answered with
    the stream error the corpus index names (capulet.example -> montague.example, plain TCP:
    capulet.example is allowed without TLS)."""
    index = {}
    with open(os.path.join(CORPUS, "INDEX.tsv")) as f:
        for line in f.read().splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0].startswith("invalid/"):
                index[parts[0]] = parts[2]
    for path, expected in sorted(index.items()):
        with open(os.path.join(CORPUS, path), "rb") as f:
            data = f.read()
        name = os.path.basename(path)
        wants = expected.replace("either:", "").split("|")
        raw = Raw(t.edge_ext)
        try:
            if not name.startswith(("auth-01", "host-01")):
                # judged on an authenticated stream (else an unauthenticated stanza is refused
                # with <not-authorized/> before its defect is read): SASL EXTERNAL first, then
                # the file, whose header is the restarted stream's
                ok = sasl_external(raw, t, "capulet.example", "montague.example", "capulet",
                                   restart=False)
                if not check(ok is not None, f"corpus {name}: authenticated first"):
                    continue
                raw.buf = b""
            raw.send(data)
            if name.startswith("wf-12"):
                raw.end_input()  # the CDATA never ends: end of input
            if expected.startswith("dialback-error:"):
                cond = expected.split(":", 1)[1]
                m = raw.read_until(rb"<db:result[^>]*type=['\"]error['\"].*?</db:result>")
                check(m is not None and cond.encode() in m.group(0),
                      f"corpus {name}: db:result type='error' <{cond}/>, stream kept")
                continue
            got = raw.stream_error()
            cond_ok = any(w == f"stream-error:{got}" for w in wants)
            check(cond_ok, f"corpus {name}: {expected} (got {got})")
        except (OSError, ssl.SSLError) as e:
            check(False, f"corpus {name}: {e!r}")
        finally:
            raw.close()


def addressing(t):
    """Stanzas the machines refuse on authenticated streams: to a domain that is not ours from a
    partner; to another partner than the stream's from the gateway."""
    raw = Raw(t.edge_ext)
    try:
        sasl_external(raw, t, "fabrikam.test", "contoso.test", "fabrikam")
        raw.send(b"<message from='bob@fabrikam.test' to='someone@elsewhere.test' type='chat'>"
                 b"<body>not for us</body></message>")
        got = raw.stream_error()
        check(got == "host-unknown", f"partner stanza to a domain not ours: <host-unknown/> "
              f"(got {got})")
    finally:
        raw.close()
    raw = Raw(t.edge_gw)
    try:
        frm, to = "contoso.test", "fabrikam.test"
        raw.send(header(frm, to))
        raw.read_until(rb"</stream:features>")
        raw.starttls(client_ctx(t.certs, "gateway"), to)
        raw.send(header(frm, to))
        raw.read_until(rb"</stream:features>")
        raw.send(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" +
                 base64.b64encode(frm.encode()) + b"</auth>")
        ok = raw.read_until(rb"<success[^>]*/>|<success[^>]*>.*?</success>")
        check(ok is not None, "raw gateway: SASL EXTERNAL as contoso.test on the gateway port")
        raw.buf = b""
        raw.send(header(frm, to))
        raw.read_until(rb"</stream:features>")
        raw.send(b"<message from='alice@contoso.test' to='carol@northwind.test' type='chat'>"
                 b"<body>wrong stream</body></message>")
        got = raw.stream_error()
        check(got == "host-unknown", f"gateway stanza for another partner than the stream's: "
              f"<host-unknown/> (got {got})")
    finally:
        raw.close()


SECRET = "dialback secret of the test"
VERBATIM = (b"<message  to=\"alice@contoso.test\"\n   from='bob@fabrikam.test/x' type='chat' "
            b"id=\"v1\"><body>caf\xc3\xa9 &amp; &#x263A; <![CDATA[<raw> & ]]></body>"
            b"<x xmlns='urn:test' a=\"1\"   b='&apos;'/></message>")


def gateway_sink(t, lsock, result):
    """The internal gateway, by hand: answers the edge's gateway-out stream (STARTTLS with the
    gateway's certificate), checks its dialback key for fabrikam.test (XEP-0185 with the
    configured secret), accepts it and keeps what arrives."""
    try:
        lsock.settimeout(15)
        s, _ = lsock.accept()
        raw = Raw.__new__(Raw)
        raw.sock, raw.buf, raw.tls = s, b"", None
        hdr = raw.read_until(rb"<stream:stream[^>]*>")
        result["header"] = hdr.group(0) if hdr else None
        raw.buf = b""
        raw.send(header("contoso.test", "fabrikam.test").replace(b"' version=", b"' id='s1' version=")
                 + b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                 b"<required/></starttls></stream:features>")
        raw.read_until(rb"<starttls[^>]*>")
        raw.send(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(t.certs.pem("gateway"), t.certs.key("gateway"))
        raw.wrap(ctx, None, server_side=True)
        raw.buf = b""
        raw.read_until(rb"<stream:stream[^>]*>")
        raw.buf = b""
        raw.send(header("contoso.test", "fabrikam.test").replace(b"' version=", b"' id='s2' version=")
                 + b"<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/>"
                 b"</dialback></stream:features>")
        m = raw.read_until(rb"<db:result[^>]*>([0-9a-f]+)</db:result>")
        want = hmac.new(hashlib.sha256(SECRET.encode()).hexdigest().encode(),
                        b"contoso.test fabrikam.test s2", hashlib.sha256).hexdigest()
        result["key_ok"] = bool(m) and m.group(1).decode() == want
        raw.buf = b""
        raw.send(b"<db:result from='contoso.test' to='fabrikam.test' type='valid'/>")
        m = raw.read_until(re.escape(VERBATIM), timeout=10)
        result["verbatim"] = m is not None
        result["got"] = raw.buf[:600]
        raw.close()
    except Exception as e:  # noqa: BLE001
        result["error"] = repr(e)


def timeouts_and_proxy(t):
    """A second edge with short timers and the PROXY protocol on its partner listener: the real
    partner address reaches the log, a whitespace keepalive goes out on a quiet stream, and a
    stream that receives nothing ends with <connection-timeout/>."""
    ext, gw = peers.free_port(), peers.free_port()
    lsock = socket.socket()
    lsock.bind((HOST, 0))
    lsock.listen(4)
    conf = t.work.file("edge2.conf")
    with open(t.edge_conf) as f:
        text = f.read()
    text = text.replace(f"{HOST}:{t.edge_ext}", f"{HOST}:{ext}").replace(
        f"{HOST}:{t.edge_gw}", f"{HOST}:{gw}").replace(
        "idle_timeout = 60s", "idle_timeout = 3s\nkeepalive = 1s").replace(
        "protocol = xmpp-s2s\n", "protocol = xmpp-s2s\nproxy_protocol = yes\n").replace(
        "id = edge1", "id = edge2").replace(
        f"gateway = {HOST}:{t.gw_direct}\ngateway_direct_tls = yes",
        f"gateway = {HOST}:{lsock.getsockname()[1]}\ndialback_secret = {SECRET}")
    with open(conf, "w") as f:
        f.write(text)
    e2 = peers.start([EDGE, "--config", conf], "edge2", t.work, ready=("port", HOST, gw),
                     timeout=10)
    # a stanza written oddly (quotes, whitespace, references, CDATA) reaches the gateway as the
    # very bytes the partner sent
    result = {}
    sink = threading.Thread(target=gateway_sink, args=(t, lsock, result), daemon=True)
    sink.start()
    raw = Raw(ext)
    try:
        raw.send(b"PROXY TCP4 198.51.100.8 127.0.0.1 40001 5269\r\n")
        sasl_external(raw, t, "fabrikam.test", "contoso.test", "fabrikam")
        raw.send(VERBATIM)
        sink.join(timeout=20)
    finally:
        raw.close()
        lsock.close()
    check(result.get("header") is not None and b"from='fabrikam.test'" in result["header"] and
          b"to='contoso.test'" in result["header"],
          f"gateway-out (STARTTLS): a stream from fabrikam.test to contoso.test "
          f"({result.get('header')})")
    check(result.get("key_ok") is True, "gateway-out: the dialback key is XEP-0185's for the "
          "configured secret")
    check(result.get("verbatim") is True, "the stanza reaches the gateway byte for byte "
          f"({result.get('error') or result.get('got')})")
    raw = Raw(ext)
    try:
        raw.send(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 5269\r\n")
        ok = sasl_external(raw, t, "fabrikam.test", "contoso.test", "fabrikam")
        check(ok is not None, "PROXY protocol header, then STARTTLS + SASL EXTERNAL")
        check(e2.wait_log(r"198\.51\.100\.7: fabrikam\.test -> contoso\.test authenticated",
                          timeout=3) is not None, "the log names the partner's real address")
        raw.buf = b""
        t0 = time.monotonic()
        m = raw.read_until(rb"^ +$", timeout=3.5)
        check(m is not None, f"a whitespace keepalive on a quiet stream "
              f"({time.monotonic() - t0:.1f} s)")
        got = raw.stream_error(timeout=6)
        check(got == "connection-timeout", f"no traffic for idle_timeout: <connection-timeout/> "
              f"(got {got}, after {time.monotonic() - t0:.1f} s)")
        check(raw.closed(), "connection-timeout: stream and connection closed")
    finally:
        raw.close()
    raw = Raw(ext)
    try:
        raw.send(b"GET / HTTP/1.0\r\n\r\n")
        check(raw.closed(timeout=3) or raw.buf == b"", "a bad PROXY header: the connection closes")
    finally:
        raw.close()
    rc = peers.stop(e2, grace=8)
    check(rc == 0, f"second edge exits 0 on SIGTERM (got {rc})")


async def bounce(t):
    """A partner that is allowed but cannot be reached (tailspin.test has no DNS records in the
    external view): alice's message comes back as a stanza error from tailspin.test."""
    alice = Client("alice@contoso.test/b", "alicepw", t.gw_c2s, t.certs.ca)
    alice.go()
    try:
        await asyncio.wait_for(alice.ready.wait(), 20)
    except asyncio.TimeoutError:
        check(False, "alice logged in again")
        return
    alice.send_message(mto="nobody@tailspin.test", mbody="anyone there?", mtype="chat")
    deadline = time.monotonic() + 25
    got = None
    while time.monotonic() < deadline and got is None:
        try:
            m = await asyncio.wait_for(alice.inbox.get(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if m["type"] == "error" and m["from"].bare == "nobody@tailspin.test":
            got = m
    cond = got["error"]["condition"] if got is not None else None
    check(cond == "remote-server-not-found",
          f"a message to an unreachable partner bounces: <remote-server-not-found/> (got {cond})")
    check(t.edge.wait_log(r"tailspin\.test: .*not delivered", timeout=1) is not None,
          "edge log: the undelivered stanza is named with its pair")
    alice.disconnect()
    await asyncio.sleep(0.3)


def source_limit(t):
    """[limits] connections_per_source (12) applies to partner connections from one address."""
    socks, refused = [], False
    try:
        for _ in range(16):
            s = socket.create_connection((HOST, t.edge_ext), timeout=5)
            socks.append(s)
            s.settimeout(0.5)
            try:
                if s.recv(1) == b"":
                    refused = True
                    break
            except (socket.timeout, TimeoutError):
                pass
            except OSError:
                refused = True
                break
    finally:
        for s in socks:
            s.close()
    check(refused and t.edge.wait_log(r"xmpp connection from 127.0.0.1 refused: 12 connections",
                                      timeout=3) is not None,
          f"the 13th partner connection from one address is refused ({len(socks)} opened)")
    time.sleep(0.3)
    raw = Raw(t.edge_ext)
    try:
        raw.send(header("fabrikam.test", "contoso.test"))
        check(raw.read_until(rb"</stream:features>") is not None,
              "connections are accepted again once the others have gone")
    finally:
        raw.close()


def reload_lists(t):
    with open(t.allow, "a") as f:
        f.write("tailspin.test\n")
    os.kill(t.edge.pid, signal.SIGHUP)
    ok = t.edge.wait_log(r"xmpp partner lists reloaded", timeout=5)
    check(ok is not None, "SIGHUP reloads the partner lists")
    raw = Raw(t.edge_ext)
    try:
        raw.send(header("tailspin.test", "contoso.test"))
        m = raw.read_until(rb"</stream:features>|<stream:error>")
        check(m is not None and m.group(0) == b"</stream:features>",
              "after the reload tailspin.test gets its features, not a refusal")
    finally:
        raw.close()
    with open(t.block, "a") as f:
        f.write("*.blocked.test\n")
    with open(t.allow, "a") as f:
        f.write("this is not a domain!\n")
    since = len(t.edge.log_text())
    os.kill(t.edge.pid, signal.SIGHUP)
    m = t.edge.wait_log(r"xmpp partner lists not reloaded.*partners.allow:\d+", timeout=5,
                        since=since)
    check(m is not None, "a list with an error is not loaded; the message names file:line")


def main():
    if not EDGE:
        print("usage: test_xmpp_federation.py EDGEPROXY [SRCDIR]")
        return 2
    work = peers.workdir("edge-xmpp-")
    t = None
    try:
        t = setup(work)
        asyncio.run(asyncio.wait_for(messaging(t), 150))
        log = t.edge.log_text()
        check(re.search(r"fabrikam.test -> contoso.test authenticated \(SASL EXTERNAL", log),
              "edge log: fabrikam.test authenticated by SASL EXTERNAL (inbound)")
        check(re.search(r"contoso.test -> fabrikam.test authenticated \(SASL EXTERNAL", log),
              "edge log: the edge authenticated to fabrikam.test by SASL EXTERNAL")
        check(re.search(r"northwind.test -> contoso.test authenticated \(dialback", log),
              "edge log: northwind.test authenticated by dialback (inbound)")
        check(re.search(r"contoso.test -> northwind.test authenticated \(dialback", log),
              "edge log: the edge authenticated to northwind.test by dialback")
        check(re.search(r"fabrikam.test -> contoso.test authenticated \(dialback", log),
              "edge log: the gateway accepted the edge's stream for fabrikam.test by dialback")
        check(re.search(r"partner-out fabrikam.test: connecting to xmpp.fabrikam.test "
                        rf"\[127.0.0.1\]:{t.fab_direct} \(direct TLS\)", log),
              "edge log: fabrikam.test reached by direct TLS (_xmpps-server, XEP-0368)")
        check(re.search(r"partner-out northwind.test: connecting to xmpp.northwind.test "
                        rf"\[127.0.0.1\]:{t.nw_s2s}$", log, re.M),
              "edge log: northwind.test reached by STARTTLS (_xmpp-server)")
        check(re.search(r"gateway-out contoso.test: connecting to 127.0.0.1 "
                        rf"\[127.0.0.1\]:{t.gw_direct} \(direct TLS\)", log),
              "edge log: the edge reached the gateway by direct TLS (gateway_direct_tls)")
        check(re.search(r"gateway-in 127.0.0.1: direct TLS", log),
              "edge log: the gateway reached the edge by direct TLS for fabrikam.test")
        since = len(t.edge.log_text())
        os.kill(t.edge.pid, signal.SIGUSR1)
        m = t.edge.wait_log(r"^xmpp: stanzas_in=(\d+) stanzas_out=(\d+) .*pairs_sasl=(\d+) "
                            r"pairs_dialback=(\d+)", timeout=5, since=since)
        check(m is not None and int(m.group(1)) >= 52 and int(m.group(2)) >= 2 and
              int(m.group(3)) >= 2 and int(m.group(4)) >= 2,
              f"SIGUSR1 prints the XMPP counters ({m.group(0) if m else None})")
        refusals(t)
        addressing(t)
        corpus(t)
        timeouts_and_proxy(t)
        source_limit(t)
        reload_lists(t)
        asyncio.run(asyncio.wait_for(bounce(t), 60))
        rc = peers.stop(t.edge, grace=8)
        check(rc == 0, f"edge exits 0 on SIGTERM (got {rc})")
        log = t.edge.log_text()
        check("ERROR: AddressSanitizer" not in log and "runtime error" not in log,
              "no sanitizer report in the edge's log")
    except Exception as e:  # noqa: BLE001
        check(False, f"unexpected {e!r}")
        import traceback
        traceback.print_exc()
    finally:
        if failures:
            peers.dump_logs(n=6000)
        peers.stop_all()
        work.cleanup(keep=KEEP or bool(failures))
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
