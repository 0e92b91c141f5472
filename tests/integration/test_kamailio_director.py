#!/usr/bin/env python3
"""test_kamailio_director.py - Kamailio as the internal Director, on its own (no edgeproxy).

The integration tests put Kamailio 5.6 (kamailio/director.cfg.in) behind the edge as the
Director pool. This checks that stand-in alone, with this script playing the edge: it connects
to the Director over mutual TLS with the edge-internal certificate, and listens on the "edge's
internal address" with its own TLS server (edge-internal certificate, Director's client
certificate required), which is where the Director sends requests for users registered with a
Path through the edge.

Checks: OPTIONS answered 200; no or untrusted client certificate refused; REGISTER challenged
401, then accepted with the digest, Path echoed; wrong password challenged again; MESSAGE to the
registered AOR relayed over mutual TLS to the Path address (the registered Contact as Request-URI)
and the 200 relayed back; MESSAGE to an unknown user 404; INVITE record-routed, then ACK and BYE
loose-routed back along the Route set; a second Director on another address (failover).
Each check prints `ok NAME` or `FAIL NAME: detail`; the last line is `N passed, M failed`.
Every process is started and stopped here by its own process group, on 127.0.0.0/8 only.
"""
import os
import re
import ssl
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

DIRECTOR_HOST = "127.0.0.3"
DIRECTOR2_HOST = "127.0.0.4"
EDGE_HOST = "127.0.0.2"
DOMAIN = "example.test"

passed = 0
failed = 0


def report(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def show(m):
    if m is None:
        return "no response"
    return bytes(m).decode("utf-8", "replace")[:1500]


class Topology:
    def __init__(self, work, certs):
        self.work = work
        self.certs = certs
        self.director = peers.start_kamailio_director(work, certs, DIRECTOR_HOST,
                                                      peers.free_port(DIRECTOR_HOST))
        # the edge's internal listener: the Director must present its client certificate here
        self.edge = peers.SipTlsServer(EDGE_HOST, peers.free_port(EDGE_HOST),
                                       peers.server_context(certs, "edge-internal", "required"),
                                       responder=self.respond)
        self.edge_uri = f"sip:{EDGE_HOST}:{self.edge.addr[1]};transport=tls;lr"
        self.edge_ctx = peers.client_context(certs, "edge-internal")

    def respond(self, msg, conn):
        """The far side of the edge: 200 to every request but ACK; an INVITE's 200 carries the
        edge's own Record-Route on top of the set the INVITE came with, and the callee's Contact
        (an address only the edge reaches), as a UA behind the edge would answer."""
        if msg.is_response or msg.method == "ACK":
            return None
        if msg.method == "INVITE":
            rr = [("Record-Route", v)
                  for v in [f"<{self.edge_uri}>"] + msg.headers_named("Record-Route")]
            return peers.response_to(msg, 200, "OK", headers=rr + [
                ("Contact", "<sip:alice@198.51.100.7:50000;transport=tls>")])
        return peers.response_to(msg, 200, "OK")

    def connect(self, cert="edge-internal"):
        ctx = peers.client_context(self.certs, cert)
        return peers.SipTlsClient(DIRECTOR_HOST, self.director.addr[1], ctx,
                                  server_hostname="director.example.test")

    def close(self):
        self.edge.close()


def register(c, user, password, path=None, contact=None, expires=600, supported_path=True):
    """REGISTER, answer the challenge; returns (first response, final response)."""
    call_id = f"reg-{user}-{time.monotonic_ns()}@edge.test"
    from_tag = peers.tag()
    aor = f"sip:{user}@{DOMAIN}"
    extra = [("Contact", f"<{contact or f'sip:{user}@198.51.100.7:50000;transport=tls'}>"),
             ("Expires", str(expires))]
    if path:
        extra.append(("Path", f"<{path}>"))
    if supported_path:
        extra.append(("Supported", "path"))

    def req(cseq, auth=None):
        h = list(extra) + ([("Authorization", auth)] if auth else [])
        return peers.request("REGISTER", f"sip:{DOMAIN}", via_host=c.via_host, from_uri=aor,
                             to_uri=aor, call_id=call_id, cseq=cseq, from_tag=from_tag,
                             headers=h)

    first = c.transact(req(1))
    if not first or first.status != 401:
        return first, None
    auth = peers.digest_authorization(first.header("WWW-Authenticate"), "REGISTER",
                                      f"sip:{DOMAIN}", user, password)
    return first, c.transact(req(2, auth))


# ---------------------------------------------------------------- cases


def case_options(t):
    with t.connect() as c:
        r = c.transact(peers.request("OPTIONS", f"sip:{DIRECTOR_HOST}:{t.director.addr[1]};"
                                     "transport=tls", via_host=c.via_host))
        report("OPTIONS to the Director: 200", r and r.status == 200, show(r))
        cert = c.sock.getpeercert()
        names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
        report("the Director presents director.example.test (verified against the test CA)",
               "director.example.test" in names, repr(names))


def case_client_cert_required(t):
    for label, cert in (("no client certificate", None), ("untrusted client certificate",
                                                          "rogue")):
        st = None
        try:
            ctx = peers.client_context(t.certs, cert)
            with peers.SipTlsClient(DIRECTOR_HOST, t.director.addr[1], ctx,
                                    server_hostname="director.example.test", timeout=5) as c:
                # TLS 1.3: the server's verdict on our certificate arrives after our handshake
                r = c.transact(peers.request("OPTIONS", f"sip:{DIRECTOR_HOST}",
                                             via_host=c.via_host), timeout=3)
                st = r.status if r else None
        except (OSError, ssl.SSLError):
            st = None
        report(f"{label}: refused (no SIP answer)", st is None, f"got status {st}")


def case_register(t):
    with t.connect() as c:
        first, final = register(c, "alice", "secret-alice", path=t.edge_uri)
        report("REGISTER without credentials: 401 with a Digest challenge",
               first and first.status == 401
               and (first.header("WWW-Authenticate") or "").startswith("Digest "), show(first))
        report("REGISTER with the digest: 200", final and final.status == 200, show(final))
        if final:
            paths = final.headers_named("Path")
            report("REGISTER 200 echoes the Path", any(t.edge_uri.split(";")[0] in p for p in paths),
                   f"Path: {paths}")
            report("REGISTER 200 lists the Contact",
                   "198.51.100.7:50000" in (final.header("Contact") or ""), show(final))

        first, final = register(c, "mallory", "wrong-password", path=t.edge_uri)
        report("REGISTER with a wrong password: challenged again (401)",
               final and final.status == 401, show(final))


def case_message(t):
    with t.connect() as c:
        req = peers.request("MESSAGE", f"sip:alice@{DOMAIN}", via_host=c.via_host,
                            from_uri=f"sip:bob@{DOMAIN}", body=b"hello alice",
                            content_type="text/plain")
        r = c.transact(req)
        report("MESSAGE to the registered AOR: 200 relayed back", r and r.status == 200, show(r))
        got = t.edge.wait_for(lambda m: m.method == "MESSAGE"
                              and m.header("Call-ID") == req.header("Call-ID"), 5)
        report("MESSAGE reaches the Path address over mutual TLS", got is not None,
               f"edge got: {[m.start for m, _ in t.edge.messages]}; errors {t.edge.errors}")
        if got:
            m, conn = got
            names = [v for k, v in conn.peer_cert.get("subjectAltName", ()) if k == "DNS"]
            report("the Director connects with its client certificate (director.example.test)",
                   "director.example.test" in names, repr(conn.peer_cert))
            report("the relayed MESSAGE targets the registered Contact",
                   m.uri.startswith("sip:alice@198.51.100.7:50000"), m.start)
            routes = m.headers_named("Route")
            report("the relayed MESSAGE carries the Path as its Route",
                   routes and t.edge_uri.split(";")[0] in routes[0], f"Route: {routes}")
            report("the relayed MESSAGE keeps the body", m.body == b"hello alice", repr(m.body))
            vias = m.headers_named("Via")
            report("the Director adds its Via (TLS)", len(vias) == 2
                   and vias[0].upper().startswith("SIP/2.0/TLS " + DIRECTOR_HOST), repr(vias))

        r = c.transact(peers.request("MESSAGE", f"sip:nobody@{DOMAIN}", via_host=c.via_host,
                                     from_uri=f"sip:bob@{DOMAIN}", body=b"x",
                                     content_type="text/plain"))
        report("MESSAGE to an unregistered user: 404", r and r.status == 404, show(r))


def case_invite_dialog(t):
    with t.connect() as c:
        call_id = f"inv-{time.monotonic_ns()}@edge.test"
        ftag = peers.tag()
        bob, alice = f"sip:bob@{DOMAIN}", f"sip:alice@{DOMAIN}"
        inv = peers.request("INVITE", alice, via_host=c.via_host, from_uri=bob, to_uri=alice,
                            call_id=call_id, from_tag=ftag, cseq=1,
                            headers=[("Contact", f"<sip:bob@{c.via_host};transport=tls>")])
        r = c.transact(inv)
        report("INVITE to the registered AOR: 200", r and r.status == 200, show(r))
        got = t.edge.wait_for(lambda m: m.method == "INVITE" and m.header("Call-ID") == call_id,
                              5)
        rr = got[0].headers_named("Record-Route") if got else []
        report("the Director record-routes the INVITE",
               got and any(DIRECTOR_HOST in v for v in rr), f"Record-Route: {rr}")
        if not r or r.status != 200:
            return
        # UAC route set: the 200's Record-Route reversed; the remote target is its Contact
        route = list(reversed(r.headers_named("Record-Route")))
        target = re.sub(r"^.*<([^>]*)>.*$", r"\1", r.header("Contact"))
        to = r.header("To")
        to_tag = re.search(r";tag=([^;>\s]+)", to).group(1)

        def in_dialog(method, cseq):
            return peers.request(method, target, via_host=c.via_host, from_uri=bob, to_uri=alice,
                                 call_id=call_id, from_tag=ftag, to_tag=to_tag, cseq=cseq,
                                 headers=[("Route", v) for v in route])

        c.send(in_dialog("ACK", 1))
        ack = t.edge.wait_for(lambda m: m.method == "ACK" and m.header("Call-ID") == call_id, 5)
        report("ACK loose-routed by the Director to the edge", ack is not None,
               f"edge got: {[m.start for m, _ in t.edge.messages]}")
        r = c.transact(in_dialog("BYE", 2))
        report("BYE loose-routed, 200 back", r and r.status == 200, show(r))
        bye = t.edge.wait_for(lambda m: m.method == "BYE" and m.header("Call-ID") == call_id, 5)
        report("BYE reaches the edge with the target as Request-URI",
               bye and bye[0].uri == target, show(bye[0] if bye else None))


def case_second_director(t):
    port = peers.free_port(DIRECTOR2_HOST)
    h = peers.start_kamailio_director(t.work, t.certs, DIRECTOR2_HOST, port, name="director2",
                                      cert="director2")
    try:
        ctx = peers.client_context(t.certs, "edge-internal")
        st = peers.sip_ping(DIRECTOR2_HOST, port, ctx, server_hostname="director.example.test")
        report("a second Director on another address answers OPTIONS (pool name verified)",
               st == 200, f"status {st}")
        st = peers.sip_ping(DIRECTOR_HOST, t.director.addr[1], ctx,
                            server_hostname="director.example.test")
        report("the first Director still answers", st == 200, f"status {st}")
    finally:
        rc = peers.stop(h)
        report("the second Director stops on SIGTERM, with every child", rc is not None
               and not h.pids(), f"status {rc}, left {h.pids()}")


CASES = [case_options, case_client_cert_required, case_register, case_message,
         case_invite_dialog, case_second_director]


def main():
    only = sys.argv[1:]
    started = time.monotonic()
    work = peers.workdir("edge-kam-")
    topo = None
    try:
        certs = peers.make_certs(work.file("certs"))
        topo = Topology(work, certs)
        for c in CASES:
            if only and not any(o in c.__name__ for o in only):
                continue
            try:
                c(topo)
            except Exception as e:  # a broken case is a failure, and the next case still runs
                report(c.__name__, False, f"{e!r}\n{traceback.format_exc()}")
        director = topo.director
        rc = peers.stop(director)
        report("the Director stops on SIGTERM, with every child",
               rc is not None and not director.pids(), f"status {rc}, left {director.pids()}")
    except Exception as e:
        report("setup", False, f"{e!r}\n{traceback.format_exc()}")
    finally:
        if topo:
            topo.close()
        peers.stop_all()
        if failed:
            peers.dump_logs()
        work.cleanup()
    print(f"{passed} passed, {failed} failed ({time.monotonic() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
