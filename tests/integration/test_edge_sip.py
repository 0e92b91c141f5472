#!/usr/bin/env python3
"""test_edge_sip.py EDGEPROXY SOURCE_DIR - the SIP Access Edge end to end, with exact control:
edgeproxy (the real daemon, the ASan build under ctest) between a remote client (Python TLS)
and Director stand-ins (Python MTLS servers that answer as a registrar/UAS would). Covers what
the relay must get right message by message: Via/received/rport, Max-Forwards, double
Record-Route and Path with flow tokens, trust headers stripped and added, 401 relayed untouched,
incoming requests over the flow, 430 and forged tokens, CANCEL, ACK, 483/482, no open relay,
CRLF keepalive, Ms-Keep-Alive, the brute-force guard, the rate limit, 503 failover between
members, health probes, every corpus message, and a clean exit under the sanitizers.
Real peers (SIPp, Kamailio) are exercised by the other integration tests.
"""
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402
from peers import request, response_to  # noqa: E402

EDGE = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


class Director:
    """A Director stand-in: registrar with a digest challenge, UAS for MESSAGE/INVITE/BYE,
    'slow' INVITEs that wait for CANCEL, 'busy' requests answered 503."""

    def __init__(self, certs, port, name):
        self.name = name
        self.password = "secret"
        self.regs = {}
        self.pending_invites = {}
        ctx = peers.server_context(certs, "director", "required")
        self.srv = peers.SipTlsServer("127.0.0.1", port, ctx, responder=self.respond)

    def respond(self, m, conn):
        if m.is_response:
            return None
        meth = m.method
        if meth == "ACK":
            return None
        if "busy" in m.start and self.name == "A":
            return response_to(m, 503, "Service Unavailable")
        if meth == "OPTIONS":
            return response_to(m, 200, "OK", [("Server", "director-" + self.name)])
        if meth == "REGISTER":
            auth = m.header("Authorization")
            if not auth:
                return response_to(m, 401, "Unauthorized", [(
                    "WWW-Authenticate",
                    'Digest realm="example.test", nonce="n0nce-%s", qop="auth"' % self.name)])
            if f'username="alice"' in auth and "wrongpw" not in auth:
                self.regs["alice"] = m
                hs = [("Contact", m.header("Contact") + ";expires=600")]
                if m.header("Path"):
                    hs.append(("Path", m.header("Path")))
                return response_to(m, 200, "OK", hs)
            return response_to(m, 401, "Unauthorized", [(
                "WWW-Authenticate", 'Digest realm="example.test", nonce="n1", qop="auth"')])
        if meth == "INVITE" and "slow" in m.start:
            self.pending_invites[m.header("Call-ID")] = (m, conn)
            return response_to(m, 180, "Ringing", to_tag="slowtag")
        if meth == "CANCEL":
            inv = self.pending_invites.pop(m.header("Call-ID"), None)
            if inv:
                conn.send(response_to(m, 200, "OK"))
                return response_to(inv[0], 487, "Request Terminated", to_tag="slowtag")
            return response_to(m, 481, "Call/Transaction Does Not Exist")
        if meth == "INVITE":
            return response_to(m, 200, "OK", [("Record-Route", "<sip:director.example.test;lr>"),
                                             ("Contact", "<sip:bob@10.0.0.5>")])
        return response_to(m, 200, "OK", [("Server", "director-" + self.name)])

    def got(self, pred, timeout=5):
        r = self.srv.wait_for(pred, timeout)
        return r


def write_conf(work, certs, ports, limits):
    return peers.edge_conf(work, certs, ports["ext"], ports["int"],
                           [f"127.0.0.1:{ports['dirA']}", f"127.0.0.1:{ports['dirB']}"],
                           federation=ports["fed"], log="debug", limits=limits + "\n",
                           pool="health_interval = 500ms\nhealth_timeout = 400ms\n"
                           "transaction_timeout = 3s\n",
                           sip="trust_headers = X-Internal-Trust\nauth_fail_limit = 3\n"
                           "lockout = 30s\ninvite_timeout = 2s\n")


def client(ports, certs, source=None):
    ctx = peers.client_context(certs)
    return peers.SipTlsClient("127.0.0.1", ports["ext"], ctx, "edge.example.test", timeout=5,
                              source=source)


def main():
    work = peers.workdir("edge-sip-")
    certs = peers.make_certs(work.file("certs"))
    ports = {k: peers.free_port() for k in ("ext", "fed", "int", "dirA", "dirB")}
    dirA = Director(certs, ports["dirA"], "A")
    dirB = Director(certs, ports["dirB"], "B")
    conf = write_conf(work, certs, ports, "requests_per_second = 40\nmax_message_size = 8k")
    r = os_run([EDGE, "--check-config", conf])
    check("check-config accepts the test configuration", r == 0)
    edge = peers.start([EDGE, "--config", conf], "edgeproxy", work,
                       ready=lambda: peers.port_open("127.0.0.1", ports["ext"]), timeout=15)
    try:
        run_checks(ports, certs, dirA, dirB, edge, work)
        limits_checks(certs)
    finally:
        peers.stop(edge, grace=10)
        log = edge.log_text()
        check("edgeproxy exits cleanly on SIGTERM (sanitizers quiet)",
              edge.popen.returncode == 0 and "ERROR: AddressSanitizer" not in log
              and "runtime error" not in log and "LeakSanitizer" not in log,
              f"rc={edge.popen.returncode}\n{edge.tail(4000)}")
        dirA.srv.close()
        dirB.srv.close()
        if failures:
            print(edge.tail(6000))
        work.cleanup(keep=bool(failures))
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


def limits_checks(certs):
    """A second edge with tight limits: connections per source, handshake and idle timeouts,
    and a listener behind an HLB that speaks the PROXY protocol."""
    work = peers.workdir("edge-limits-")
    ports = {k: peers.free_port() for k in ("ext", "fed", "int", "dirA", "dirB")}
    ports["hlb"] = peers.free_port()
    d = Director(certs, ports["dirA"], "B")
    conf = write_conf(work, certs, ports, "connections_per_source = 3\nidle_timeout = 1s\n"
                      "handshake_timeout = 300ms")
    with open(conf, "a") as f:
        f.write(f"""
[listener behind-hlb]
address = 127.0.0.1:{ports['hlb']}
side = external
cert = {certs.pem('edge-external')}
key = {certs.key('edge-external')}
proxy_protocol = yes
""")
    edge = peers.start([EDGE, "--config", conf], "edgeproxy-limits", work,
                       ready=lambda: peers.port_open("127.0.0.1", ports["hlb"]), timeout=15)
    try:
        time.sleep(0.3)  # the readiness probes' connections are gone
        conns = []
        for i in range(4):
            try:
                cc = client(ports, certs, source="127.0.0.7")
                r = cc.transact(request("OPTIONS", "sip:example.test", via_host=cc.via_host), 3)
                conns.append(r.status if r else None)
                if r is None:
                    cc.close()
                    continue
                conns_open.append(cc)
            except (OSError, ssl.SSLError):
                conns.append("refused")
        check("connections_per_source: the 4th connection from one address is refused",
              conns[:3] == [200, 200, 200] and conns[3] in ("refused", None), conns)
        for cc in conns_open:
            cc.close()
        conns_open.clear()

        raw = socket.create_connection(("127.0.0.1", ports["ext"]), timeout=5)
        t0 = time.monotonic()
        raw.settimeout(5)
        try:
            gone = raw.recv(10) == b""
        except OSError:
            gone = True
        took = time.monotonic() - t0
        raw.close()
        check("a connection that never completes its handshake is closed (handshake_timeout)",
              gone and took < 3, f"gone={gone} after {took:.2f}s")

        cc = client(ports, certs)
        t0 = time.monotonic()
        got = cc.recv(5)
        took = time.monotonic() - t0
        check("an idle connection is closed after idle_timeout", got is None and 0.9 < took < 4,
              f"{took:.2f}s")
        cc.close()

        raw = socket.create_connection(("127.0.0.1", ports["hlb"]), timeout=5)
        raw.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n")
        tls = peers.client_context(certs).wrap_socket(raw, server_hostname="edge.example.test")
        req = request("MESSAGE", "sip:bob@example.test", via_host="198.51.100.1:5061")
        tls.sendall(bytes(req))
        got = d.got(lambda m: m.header("Call-ID") == req.header("Call-ID"), 5)
        vias = hdrs(got[0], "Via") if got else []
        check("PROXY protocol: received/rport name the real client, not the HLB",
              len(vias) == 2 and "received=203.0.113.7" in vias[1] and "rport=40000" in vias[1],
              vias)
        tls.close()
        # the per-source limit (3) counts the real address the HLB names, not the HLB
        held, results = [], []
        for i, src in enumerate(["198.51.100.9"] * 4 + ["198.51.100.10"]):
            rs = socket.create_connection(("127.0.0.1", ports["hlb"]), timeout=5)
            rs.sendall(f"PROXY TCP4 {src} 127.0.0.1 {41000 + i} 443\r\n".encode())
            try:
                ts = peers.client_context(certs).wrap_socket(rs, server_hostname="edge.example.test")
                ts.sendall(b"\r\n\r\n")
                ts.settimeout(3)
                results.append(ts.recv(8) == b"\r\n")
                held.append(ts)
            except (OSError, ssl.SSLError):
                results.append(False)
                rs.close()
        check("behind the HLB: the 4th connection of one real client address is refused, "
              "another address is served", results == [True, True, True, False, True], results)
        for ts in held:
            ts.close()
        raw2 = socket.create_connection(("127.0.0.1", ports["hlb"]), timeout=5)
        raw2.sendall(b"GARBAGE NOT A PROXY HEADER\r\n")
        raw2.settimeout(3)
        try:
            closed = raw2.recv(10) == b""
        except OSError:
            closed = True
        check("a bad PROXY protocol header closes the connection", closed)
        raw2.close()
    finally:
        peers.stop(edge, grace=10)
        log = edge.log_text()
        check("the limits edge exits cleanly (sanitizers quiet)",
              edge.popen.returncode == 0 and "Sanitizer" not in log and "runtime error" not in log,
              edge.tail(3000))
        d.srv.close()
        work.cleanup(keep=bool(failures))


conns_open = []


def os_run(argv):
    import subprocess
    return subprocess.run(argv, capture_output=True, timeout=30).returncode


def hdrs(m, name):
    return m.headers_named(name)


def run_checks(ports, certs, dirA, dirB, edge, work):
    # health probes reach both members over mutual TLS
    pa = dirA.got(lambda m: m.method == "OPTIONS" and "probe" in (m.header("Call-ID") or ""))
    pb = dirB.got(lambda m: m.method == "OPTIONS" and "probe" in (m.header("Call-ID") or ""))
    check("health probes (OPTIONS) reach every pool member", pa is not None and pb is not None)
    if pa:
        check("the pool link presents the edge's client certificate",
              "edge-int.example.test" in str(pa[1].peer_cert))

    c = client(ports, certs)
    # ---------------------------------------------------------------- REGISTER, 401, Path
    contact = f"<sip:alice@{c.via_host};transport=tls>"
    reg = request("REGISTER", "sip:example.test", via_host=c.via_host,
                  from_uri="sip:alice@example.test", to_uri="sip:alice@example.test",
                  headers=[("Contact", contact), ("Expires", "600"),
                           ("ms-edge-proxy-message-trust", "ms-source-type=AuthorizedServer"),
                           ("X-Internal-Trust", "yes"),
                           ("Ms-Keep-Alive", "UAC;hop-hop=yes")])
    r1 = c.transact(reg)
    check("REGISTER: 401 challenge relayed back", r1 is not None and r1.status == 401,
          repr(r1))
    if r1:
        check("401: WWW-Authenticate passes untouched",
              r1.header("WWW-Authenticate") == 'Digest realm="example.test", nonce="n0nce-A", '
              'qop="auth"' or "nonce=" in (r1.header("WWW-Authenticate") or ""))
        check("401: the edge's Via is removed", len(hdrs(r1, "Via")) == 1)
    auth = peers.digest_authorization(r1.header("WWW-Authenticate"), "REGISTER",
                                      "sip:example.test", "alice", "secret") if r1 else ""
    reg2 = request("REGISTER", "sip:example.test", via_host=c.via_host, cseq=2,
                   from_uri="sip:alice@example.test", to_uri="sip:alice@example.test",
                   call_id=reg.header("Call-ID"),
                   headers=[("Contact", contact), ("Expires", "600"), ("Authorization", auth),
                            ("ms-edge-proxy-message-trust", "ms-source-type=AuthorizedServer"),
                            ("Ms-Keep-Alive", "UAC;hop-hop=yes")])
    r2 = c.transact(reg2)
    check("REGISTER with credentials: 200", r2 is not None and r2.status == 200, repr(r2))
    seen = (dirA.got(lambda m: m.method == "REGISTER" and m.header("Authorization"), 2)
            or dirB.got(lambda m: m.method == "REGISTER" and m.header("Authorization"), 2))
    token = None
    if seen:
        m = seen[0]
        path = m.header("Path") or ""
        mt = re.match(r"<sip:([0-9a-f]{36})@127\.0\.0\.1:(\d+);transport=tls;lr;ob>", path)
        check("REGISTER: Path names our internal address with a flow token",
              mt is not None and int(mt.group(2)) == ports["int"], path)
        token = mt.group(1) if mt else None
        vias = hdrs(m, "Via")
        check("REGISTER: our Via on top with a z9hG4bK branch",
              len(vias) == 2 and vias[0].startswith(f"SIP/2.0/TLS 127.0.0.1:{ports['int']};"
                                                    "branch=z9hG4bK"), vias)
        check("REGISTER: received and rport on the client's Via",
              len(vias) == 2 and f"received=127.0.0.1" in vias[1]
              and f"rport={c.local[1]}" in vias[1], vias)
        check("REGISTER: Max-Forwards decremented", m.header("Max-Forwards") == "69")
        trust = hdrs(m, "ms-edge-proxy-message-trust")
        check("forged trust header stripped, the edge's own added",
              len(trust) == 1 and "ms-source-type=InternetUser" in trust[0]
              and "ms-ep-fqdn=edge.example.test" in trust[0], trust)
        check("configured extra trust header stripped", not hdrs(m, "X-Internal-Trust"))
        check("Authorization passes untouched", m.header("Authorization") == auth)
        check("Ms-Keep-Alive is hop-by-hop: not relayed to the pool",
              not hdrs(m, "Ms-Keep-Alive"))
    else:
        check("REGISTER reaches a Director", False)
    if r2:
        check("Ms-Keep-Alive answered by the edge",
              "UAS;tcp=no;hop-hop=yes;end=no;timeout=300" in (r2.header("Ms-Keep-Alive") or ""),
              r2.header("Ms-Keep-Alive"))

    # ---------------------------------------------------------------- MESSAGE, Record-Route
    msg = request("MESSAGE", "sip:bob@example.test", via_host=c.via_host,
                  headers=[("Content-Type", "text/plain")], body=b"hello bob")
    r = c.transact(msg)
    check("MESSAGE: 200 relayed back", r is not None and r.status == 200, repr(r))
    seen = (dirA.got(lambda m: m.header("Call-ID") == msg.header("Call-ID"), 2)
            or dirB.got(lambda m: m.header("Call-ID") == msg.header("Call-ID"), 2))
    if seen:
        rr = hdrs(seen[0], "Record-Route")
        check("MESSAGE: double Record-Route (inward with flow token, outward FQDN)",
              len(rr) == 2 and re.match(r"<sip:[0-9a-f]{36}@127\.0\.0\.1:\d+;transport=tls;lr>",
                                        rr[0]) is not None
              and rr[1] == f"<sip:edge.example.test:{ports['ext']};transport=tls;lr>", rr)
        check("MESSAGE: body relayed byte for byte", seen[0].body == b"hello bob")

    # ---------------------------------------------------------------- CRLF keepalive
    c.sock.sendall(b"\r\n\r\n")
    c.sock.settimeout(3)
    try:
        pong = c.sock.recv(16)
    except (socket.timeout, ssl.SSLError, OSError):
        pong = b""
    check("CRLFCRLF ping answered with CRLF", pong == b"\r\n", repr(pong))

    # ---------------------------------------------------------------- incoming over the flow
    if token:
        ictx = peers.client_context(certs, "director", server_name_check=False)
        inner = peers.SipTlsClient("127.0.0.1", ports["int"], ictx, None, timeout=5)
        inv = request("INVITE", f"sip:alice@{c.via_host};transport=tls",
                      via_host=f"director.example.test:5061", from_uri="sip:bob@example.test",
                      to_uri="sip:alice@example.test",
                      headers=[("Route", f"<sip:{token}@127.0.0.1:{ports['int']};transport=tls;"
                                         "lr;ob>"),
                               ("Contact", "<sip:bob@10.0.0.5>"),
                               ("ms-edge-proxy-message-trust", "ms-source-type=AuthorizedServer")])
        inner.send(inv)
        got = c.recv(5)
        check("incoming INVITE from the inside reaches the client over its flow",
              got is not None and got.method == "INVITE", repr(got))
        if got:
            vias = hdrs(got, "Via")
            rr = hdrs(got, "Record-Route")
            check("incoming INVITE: the edge record-routes outward FQDN above its token URI",
                  len(rr) == 2 and rr[0] == f"<sip:edge.example.test:{ports['ext']};transport=tls;lr>"
                  and rr[1] == f"<sip:{token}@127.0.0.1:{ports['int']};transport=tls;lr>", rr)
            check("incoming INVITE: our external Via on top, Route popped, trust data kept in",
                  vias[0].startswith(f"SIP/2.0/TLS edge.example.test:{ports['ext']};branch=")
                  and not hdrs(got, "Route") and not hdrs(got, "ms-edge-proxy-message-trust"),
                  got)
            c.send(response_to(got, 180, "Ringing", to_tag="alicetag"))
            c.send(response_to(got, 200, "OK", to_tag="alicetag",
                               headers=[("ms-edge-proxy-message-trust", "forged")]))
            r180 = inner.recv(5)
            r200 = inner.recv(5)
            check("responses from the client go back to the inside, our Via removed",
                  r180 is not None and r180.status == 180 and r200 is not None
                  and r200.status == 200 and len(hdrs(r200, "Via")) == 1, (r180, r200))
            if r200:
                tr = hdrs(r200, "ms-edge-proxy-message-trust")
                check("response from outside: forged trust stripped, ours added",
                      len(tr) == 1 and "InternetUser" in tr[0], tr)
        bad = token[:-1] + ("0" if token[-1] != "0" else "1")
        inv2 = request("MESSAGE", "sip:alice@example.test", via_host="director.example.test",
                       headers=[("Route", f"<sip:{bad}@127.0.0.1:{ports['int']};lr>")])
        r = inner.transact(inv2)
        check("forged flow token refused with 403", r is not None and r.status == 403, repr(r))
        nor = request("MESSAGE", "sip:carol@fabrikam.test", via_host="director.example.test")
        r = inner.transact(nor)
        check("request from the inside naming no flow: 404, not relayed",
              r is not None and r.status == 404, repr(r))
    else:
        inner = None

    # ---------------------------------------------------------------- INVITE / ACK / BYE
    inv = request("INVITE", "sip:bob@example.test", via_host=c.via_host,
                  headers=[("Contact", f"<sip:alice@{c.via_host};transport=tls>")])
    c.send(inv)
    r100 = c.recv(5)
    check("INVITE: the edge answers 100 Trying at once", r100 is not None and r100.status == 100,
          repr(r100))
    r200 = c.recv(5)
    check("INVITE: 200 relayed", r200 is not None and r200.status == 200, repr(r200))
    if r200:
        rr = hdrs(r200, "Record-Route")
        route = [v for h in reversed(rr) for v in reversed(peers.split_list(h))]
        totag = re.search(r"tag=([^;>]+)", r200.header("To").split(">")[-1]).group(1)
        ack = request("ACK", "sip:bob@10.0.0.5", via_host=c.via_host, call_id=inv.header("Call-ID"),
                      from_tag=re.search(r"tag=(\w+)", inv.header("From")).group(1),
                      to_uri="sip:bob@example.test", to_tag=totag,
                      headers=[("Route", ", ".join(route))])
        ack.headers = [(n, v if n != "CSeq" else "1 ACK") for n, v in ack.headers]
        c.send(peers.serialize(ack.start, ack.headers))
        got = (dirA.got(lambda m: m.method == "ACK" and m.header("Call-ID") == inv.header("Call-ID"), 3)
               or dirB.got(lambda m: m.method == "ACK" and m.header("Call-ID") == inv.header("Call-ID"), 1))
        check("ACK for 2xx relayed per Route to the Director", got is not None)
        if got:
            check("ACK: our own Route entries popped",
                  all("edge.example.test" not in v and "@127.0.0.1" not in v
                      for v in hdrs(got[0], "Route")), hdrs(got[0], "Route"))
        bye = request("BYE", "sip:bob@10.0.0.5", via_host=c.via_host, call_id=inv.header("Call-ID"),
                      from_tag=re.search(r"tag=(\w+)", inv.header("From")).group(1), cseq=2,
                      to_uri="sip:bob@example.test", to_tag=totag,
                      headers=[("Route", ", ".join(route))])
        r = c.transact(bye)
        check("in-dialog BYE: 200", r is not None and r.status == 200, repr(r))

    # ---------------------------------------------------------------- CANCEL
    inv = request("INVITE", "sip:slow@example.test", via_host=c.via_host)
    c.send(inv)
    got = [c.recv(5), c.recv(5)]
    check("slow INVITE: 100 then 180", [g.status if g else None for g in got] == [100, 180])
    cancel_hdrs = [(n, v) for n, v in inv.headers if n not in ("CSeq",)]
    cancel_hdrs.append(("CSeq", "1 CANCEL"))
    c.send(peers.serialize("CANCEL sip:slow@example.test SIP/2.0",
                           [(n, v) for n, v in cancel_hdrs if n != "Content-Length"]))
    seen = set()
    for _ in range(3):
        m = c.recv(5)
        if m and m.is_response:
            seen.add((m.status, m.cseq_method()))
    check("CANCEL: 200 for the CANCEL and 487 for the INVITE",
          (200, "CANCEL") in seen and (487, "INVITE") in seen, seen)

    # timer C: an INVITE that rings without an answer is cancelled at the member, the caller 408
    inv = request("INVITE", "sip:slow@example.test", via_host=c.via_host)
    c.send(inv)
    got = [c.recv(5), c.recv(5)]
    t0 = time.monotonic()
    final = c.recv(6)
    took = time.monotonic() - t0
    check("timer C (invite_timeout 2s): the caller gets 408",
          [g.status if g else None for g in got] == [100, 180] and final is not None
          and final.status == 408 and 1.0 < took < 5, (final, f"{took:.1f}s"))
    can = (dirA.got(lambda m: m.method == "CANCEL" and m.header("Call-ID") == inv.header("Call-ID"), 3)
           or dirB.got(lambda m: m.method == "CANCEL" and m.header("Call-ID") == inv.header("Call-ID"), 1))
    check("timer C: the edge CANCELs the INVITE at the member (same branch, CSeq CANCEL)",
          can is not None and can[0].header("CSeq").endswith(" CANCEL")
          and peers.via_branch(hdrs(can[0], "Via")[0]).startswith("z9hG4bKet")
          and len(hdrs(can[0], "Via")) == 1, can[0] if can else None)

    # ---------------------------------------------------------------- limits and refusals
    m0 = request("MESSAGE", "sip:bob@example.test", via_host=c.via_host, max_forwards=0)
    r = c.transact(m0)
    check("Max-Forwards 0: 483", r is not None and r.status == 483, repr(r))
    loop = request("MESSAGE", "sip:bob@example.test", via_host=c.via_host)
    loop.headers.insert(1, ("Via", f"SIP/2.0/TLS 127.0.0.1:{ports['int']};branch=z9hG4bKet0000000100000001"))
    r = c.transact(peers.SipMessage.parse(peers.serialize(loop.start, loop.headers)))
    check("our own Via in a request: 482 Loop Detected", r is not None and r.status == 482,
          repr(r))
    relay = request("MESSAGE", "sip:victim@evil.example", via_host=c.via_host,
                    headers=[("Route", "<sip:evil.example:5061;transport=tls;lr>")])
    r = c.transact(relay)
    got = (dirA.got(lambda m: m.header("Call-ID") == relay.header("Call-ID"), 1)
           or dirB.got(lambda m: m.header("Call-ID") == relay.header("Call-ID"), 1))
    check("no open relay: an outside request for a foreign host goes only to the pool",
          r is not None and r.status == 200 and got is not None, repr(r))
    cb = client(ports, certs)
    big = request("MESSAGE", "sip:bob@example.test", via_host=cb.via_host,
                  headers=[("Content-Type", "text/plain")], body=b"x" * 9000)
    r = cb.transact(big)
    check("message over max_message_size: 513 (then close: framing is lost)",
          r is not None and r.status == 513 and cb.recv(2) is None, repr(r))
    cb.close()

    # the rate limit (40/s): a burst of 60 OPTIONS gets some 503s, on a fresh connection
    c2 = client(ports, certs)
    for i in range(60):
        c2.send(request("OPTIONS", "sip:example.test", via_host=c2.via_host))
    statuses = []
    for i in range(60):
        m = c2.recv(3)
        if m is None:
            break
        statuses.append(m.status)
    check("requests over the per-connection rate get 503",
          503 in statuses and 200 in statuses, statuses)
    c2.close()

    # ---------------------------------------------------------------- failover on 503
    busy = request("MESSAGE", "sip:busy@example.test", via_host=c.via_host)
    r = c.transact(busy)
    check("503 from one member: retried on the next, client gets 200",
          r is not None and r.status == 200 and "director-B" in (r.header("Server") or ""),
          repr(r))
    again = dirB.got(lambda m: m.header("Call-ID") == busy.header("Call-ID"), 2)
    check("the retried request carries the same edits (Max-Forwards 69, our Via)",
          again is not None and again[0].header("Max-Forwards") == "69"
          and hdrs(again[0], "Via")[0].startswith("SIP/2.0/TLS 127.0.0.1:"),
          again[0].header("Max-Forwards") if again else None)

    # ---------------------------------------------------------------- brute force
    c3 = client(ports, certs, source="127.0.0.9")
    codes = []
    for i in range(5):
        a = peers.digest_authorization('Digest realm="example.test", nonce="x"', "REGISTER",
                                       "sip:example.test", "mallory", "wrongpw")
        rq = request("REGISTER", "sip:example.test", via_host=c3.via_host, cseq=i + 1,
                     from_uri="sip:mallory@example.test", headers=[("Authorization", a)])
        rr_ = c3.transact(rq)
        codes.append(rr_.status if rr_ else None)
    check("brute-force guard: 401, 401, 401, then 403 from the edge", codes[:3] == [401] * 3
          and codes[3:] == [403, 403], codes)
    c3.close()
    c4 = client(ports, certs, source="127.0.0.9")
    r = c4.transact(request("MESSAGE", "sip:bob@example.test", via_host=c4.via_host))
    check("the locked source address gets 403 for any request",
          r is not None and r.status == 403, repr(r))
    c4.close()

    # ---------------------------------------------------------------- the corpus
    corpus = os.path.join(SRC, "tests", "corpus", "sip")
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(corpus, "INDEX.tsv"))][1:]
    bad = []
    for row in rows:
        path, action = row[0], row[4]
        if not action.startswith("reply-") and action not in ("close",):
            continue
        data = open(os.path.join(corpus, path), "rb").read()
        try:
            cc = client(ports, certs)
        except (OSError, ssl.SSLError) as e:
            bad.append((path, "connect " + repr(e)))
            continue
        cc.send(data)
        m = cc.recv(3)
        if action == "close":
            ok = m is None or (m.is_response and m.status >= 400)
        else:
            ok = m is not None and m.is_response and m.status == int(action[6:])
        if not ok:
            bad.append((path, action, m.start if m else None))
        cc.close()
    check("every corpus message answered as INDEX.tsv says (reply-NNN / close)", not bad, bad)
    r = c.transact(request("MESSAGE", "sip:bob@example.test", via_host=c.via_host))
    check("the daemon still serves the first connection after the hostile input",
          r is not None and r.status == 200, repr(r))

    # ---------------------------------------------------------------- mutation storm
    # corpus messages mutated (bytes flipped, cut, spliced, headers repeated) from a fixed seed,
    # over 40 connections on both external listeners; the daemon (ASan) must keep serving
    import random as _random
    rnd = _random.Random(4475)
    seeds = [open(os.path.join(corpus, row[0]), "rb").read() for row in rows]
    sent = 0
    for k in range(40):
        try:
            port = ports["ext"] if k % 2 else ports["fed"]
            ctx = peers.client_context(certs, "partner" if k % 4 == 0 else None)
            cc = peers.SipTlsClient("127.0.0.1", port, ctx, "edge.example.test", timeout=3)
        except (OSError, ssl.SSLError):
            continue
        for _ in range(15):
            m = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 6)):
                op = rnd.randint(0, 4)
                if not m:
                    break
                i = rnd.randrange(len(m))
                if op == 0:
                    m[i] = rnd.randrange(256)
                elif op == 1:
                    del m[i:i + rnd.randint(1, 40)]
                elif op == 2:
                    m[i:i] = rnd.choice(seeds)[:rnd.randint(1, 200)]
                elif op == 3:
                    m[i:i] = b"\r\nVia: SIP/2.0/TLS x;branch=z9hG4bKe" + bytes(str(rnd.random()), "ascii")
                else:
                    m[i:i] = b"\r\n"
            try:
                cc.send(bytes(m))
                sent += 1
            except (OSError, ssl.SSLError):
                break
        cc.close()
    r = c.transact(request("MESSAGE", "sip:bob@example.test", via_host=c.via_host))
    check(f"after {sent} mutated messages on 40 connections the daemon still relays",
          r is not None and r.status == 200 and edge.alive(), repr(r))

    # ---------------------------------------------------------------- 430 after disconnect
    c.close()
    if inner and token:
        time.sleep(0.3)
        late = request("MESSAGE", "sip:alice@example.test", via_host="director.example.test",
                       headers=[("Route", f"<sip:{token}@127.0.0.1:{ports['int']};lr;ob>")])
        r = inner.transact(late)
        check("request for a closed flow: 430 Flow Failed", r is not None and r.status == 430,
              repr(r))
        inner.close()

    # counters on SIGUSR1
    since = len(edge.log_text())
    os.kill(edge.popen.pid, signal.SIGUSR1)
    ok = edge.wait_log(r"metrics:.*sip_lockouts=[1-9]", timeout=5, since=since)
    check("SIGUSR1 prints the counters", bool(ok))


if __name__ == "__main__":
    sys.exit(main())
