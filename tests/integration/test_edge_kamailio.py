#!/usr/bin/env python3
"""test_edge_kamailio.py EDGEPROXY SOURCE_DIR - the edge in front of a real Director: Kamailio
5.6 (kamailio/director.cfg.in: registrar with Path, digest, record_route, MTLS both ways).

  alice (remote user, Python TLS client)  --TLS-->  edgeproxy  ==MTLS pool link==>  Kamailio
                                                     internal listener  <==MTLS==  (Path, RR)
  bob (internal user, Python client with a client certificate)  ==MTLS==>  Kamailio

  1. alice registers through the edge: Kamailio's 401 challenge passes through untouched, the
     REGISTER with the digest gets 200, the Path the edge added (its internal address and
     alice's flow token) is stored and echoed.
  2. bob registers at Kamailio directly (an internal user) and alice calls him: INVITE through
     the edge and Kamailio, 180/200 back, ACK along the Record-Route set (the edge's two entries
     and Kamailio's), BYE from bob back through Kamailio and the edge's flow-token entry.
  3. bob calls alice: Kamailio finds her by the location service, follows the Path to the edge's
     internal listener over MTLS, the edge relays over her flow; 180/200 back to bob; then the
     ACK and bob's BYE must come back through the edge: alice's 200 names as Contact the address
     of her device, which nobody inside can reach in a real deployment, and which here is a
     listener that records anything arriving there directly (it must see nothing).
  4. a second call, torn down by alice's BYE (through the edge and Kamailio to bob).

Then the counters (SIGUSR1) and a clean exit of the ASan build. Prints PASS/FAIL lines; exit
status 1 on any FAIL. Loopback only (127.0.0.1-6); every process is started here and stopped by
its PID / process group.
"""
import os
import re
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402
from peers import request, response_to  # noqa: E402

EDGE_EXT = "127.0.0.1"
EDGE_INT = "127.0.0.2"
DIRECTOR = "127.0.0.3"
BOB_HOST = "127.0.0.5"
DEVICE = "127.0.0.6"  # alice's device address, as her Contact says: must never be used
DOMAIN = "example.test"
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)
    return ok


def show(m):
    return bytes(m).decode("utf-8", "replace")[:1500] if m is not None else "nothing"


def uri_of(value):
    """The URI inside a name-addr (<...>), or the value itself."""
    m = re.search(r"<([^>]*)>", value or "")
    return m.group(1) if m else (value or "").strip()


class Party:
    """One user agent on one TLS connection: keeps what it received, so a wait for one message
    does not lose another that came first."""

    def __init__(self, name, client):
        self.name = name
        self.c = client
        self.inbox = []

    def wait(self, pred, timeout=5):
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            for i, m in enumerate(self.inbox):
                if pred(m):
                    return self.inbox.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            m = self.c.recv(left)
            if m is None:
                return None
            self.inbox.append(m)
        return None

    def request(self, method, call_id=None, timeout=5):
        return self.wait(lambda m: not m.is_response and m.method == method
                         and (call_id is None or m.header("Call-ID") == call_id), timeout)

    def final(self, call_id, method, timeout=5):
        return self.wait(lambda m: m.is_response and m.status >= 200
                         and m.header("Call-ID") == call_id and m.cseq_method() == method,
                         timeout)

    def transact(self, req, timeout=5):
        self.c.send(req)
        return self.final(req.header("Call-ID"), req.method, timeout)

    def send(self, msg):
        self.c.send(msg)


def in_dialog(method, party, target, route, call_id, from_value, to_value, cseq, extra=()):
    """An in-dialog request from party: Request-URI target, Route set route (a list)."""
    hs = [("Via", f"SIP/2.0/TLS {party.c.via_host};branch={peers.branch()};rport"),
          ("Max-Forwards", "70")]
    hs += [("Route", r) for r in route]
    hs += [("From", from_value), ("To", to_value), ("Call-ID", call_id),
           ("CSeq", f"{cseq} {method}")] + list(extra)
    return peers.SipMessage.parse(peers.serialize(f"{method} {target} SIP/2.0", hs))


def register(party, user, password, contact):
    """REGISTER with Supported: path, answer the challenge; (first response, final response)."""
    call_id = f"reg-{user}-{time.monotonic_ns()}@test"
    ftag = peers.tag()
    aor = f"sip:{user}@{DOMAIN}"

    def req(cseq, auth=None):
        hs = [("Contact", f"<{contact}>"), ("Expires", "600"), ("Supported", "path")]
        if auth:
            hs.append(("Authorization", auth))
        return request("REGISTER", f"sip:{DOMAIN}", via_host=party.c.via_host, from_uri=aor,
                       to_uri=aor, call_id=call_id, cseq=cseq, from_tag=ftag, headers=hs)

    first = party.transact(req(1))
    if first is None or first.status != 401:
        return first, None
    auth = peers.digest_authorization(first.header("WWW-Authenticate"), "REGISTER",
                                      f"sip:{DOMAIN}", user, password)
    return first, party.transact(req(2, auth))


def answer(uas, inv, contact, to_tag):
    """180 then 200 (Record-Route copied, our Contact) to an INVITE."""
    rr = [("Record-Route", v) for v in inv.headers_named("Record-Route")]
    uas.send(response_to(inv, 180, "Ringing", to_tag=to_tag, headers=rr))
    ok = response_to(inv, 200, "OK", to_tag=to_tag,
                     headers=rr + [("Contact", f"<{contact}>")])
    uas.send(ok)
    return ok


def call(caller, callee, caller_uri, callee_uri, caller_contact, callee_contact, label):
    """INVITE from caller to callee's AOR; callee answers; returns the dialog state as a dict
    (or None when the call was not set up), with checks on the way."""
    call_id = "call-%s-%d@test" % (re.sub(r"\W+", "-", label), time.monotonic_ns())
    ftag = peers.tag()
    inv = request("INVITE", callee_uri, via_host=caller.c.via_host, from_uri=caller_uri,
                  to_uri=callee_uri, call_id=call_id, from_tag=ftag,
                  headers=[("Contact", f"<{caller_contact}>")])
    caller.send(inv)
    got = callee.request("INVITE", call_id, timeout=5)
    if not check(f"{label}: the INVITE reaches {callee.name}", got is not None,
                 f"{callee.name} has {[m.start for m in callee.inbox]}"):
        return None
    ttag = peers.tag()
    answer(callee, got, callee_contact, ttag)
    r180 = caller.wait(lambda m: m.is_response and m.status == 180
                       and m.header("Call-ID") == call_id, 5)
    r200 = caller.final(call_id, "INVITE", 5)
    check(f"{label}: 180 and 200 come back to {caller.name}",
          r180 is not None and r200 is not None and r200.status == 200,
          f"180: {show(r180)}\n200: {show(r200)}")
    if r200 is None or r200.status != 200:
        return None
    return {"call_id": call_id, "invite_at_callee": got, "r200": r200,
            "caller_from": inv.header("From"), "caller_to": r200.header("To"),
            # UAC route set: the 200's Record-Route reversed; UAS: the INVITE's, in order
            "caller_route": list(reversed(r200.headers_named("Record-Route"))),
            "callee_route": got.headers_named("Record-Route"),
            "caller_target": uri_of(r200.header("Contact")),
            "callee_target": uri_of(got.header("Contact"))}


def main():
    edge_bin = os.path.abspath(sys.argv[1])
    started = time.monotonic()
    work = peers.workdir("edge-kam-")
    edge = device = None
    try:
        certs = peers.make_certs(work.file("certs"))
        ports = {"ext": peers.free_port(EDGE_EXT), "int": peers.free_port(EDGE_INT),
                 "dir": peers.free_port(DIRECTOR), "dev": peers.free_port(DEVICE)}
        peers.start_kamailio_director(work, certs, DIRECTOR, ports["dir"], fr_timer=3000)
        edge = peers.start([edge_bin, "--config", peers.edge_conf(
            work, certs, ports["ext"], ports["int"], [f"{DIRECTOR}:{ports['dir']}"],
            node_id="edge-kam", ext_host=EDGE_EXT, int_host=EDGE_INT, log="debug",
            pool="health_interval = 1s\nhealth_timeout = 500ms\ntransaction_timeout = 4s\n")],
            "edgeproxy",
                           work, ready=("log", r"pool member \S+ connected"), timeout=20)
        check("the edge connects to Kamailio over mutual TLS", True)
        # alice's device: a TLS listener (a certificate of the test CA, so a Director's TLS
        # client would get through) that records whatever reaches it directly
        device = peers.SipTlsServer(DEVICE, ports["dev"],
                                    peers.server_context(certs, "edge-external", "none"),
                                    responder=lambda m, c: None)
        scenario(certs, ports, edge, device)
    except Exception as e:  # noqa: BLE001 - a broken step is a failure; clean up below
        check("no exception", False, f"{e!r}\n{traceback.format_exc()}")
    finally:
        if device:
            device.close()
        if edge:
            peers.stop(edge, grace=10)
            log = edge.log_text()
            check("edgeproxy exits cleanly on SIGTERM (sanitizers quiet)",
                  edge.popen.returncode == 0 and "Sanitizer" not in log
                  and "runtime error" not in log, f"rc={edge.popen.returncode}\n{edge.tail(3000)}")
        peers.stop_all()
        if failures:
            peers.dump_logs(n=6000)
        work.cleanup(keep=bool(failures))
    print(f"{len(failures)} failure(s) ({time.monotonic() - started:.1f} s)")
    return 1 if failures else 0


def scenario(certs, ports, edge, device):
    ext_ctx = peers.client_context(certs)
    alice = Party("alice", peers.SipTlsClient(EDGE_EXT, ports["ext"], ext_ctx, "edge.example.test",
                                              timeout=5))
    bob = Party("bob", peers.SipTlsClient(DIRECTOR, ports["dir"],
                                          peers.client_context(certs, "client"),
                                          "director.example.test", timeout=5, source=BOB_HOST))
    try:
        run_calls(alice, bob, ports, edge, device)
    finally:
        alice.c.close()
        bob.c.close()


def run_calls(alice, bob, ports, edge, device):
    alice_aor, bob_aor = f"sip:alice@{DOMAIN}", f"sip:bob@{DOMAIN}"
    alice_contact = f"sip:alice@{alice.c.via_host};transport=tls"
    device_contact = f"sip:alice@{DEVICE}:{ports['dev']};transport=tls"
    bob_contact = f"sip:bob@{bob.c.via_host};transport=tls"
    m0 = peers.edge_metrics(edge)

    # ---------------------------------------------------------------- 1. alice registers
    first, final = register(alice, "alice", "secret-alice", alice_contact)
    check("alice's REGISTER: Kamailio's 401 Digest challenge relayed through the edge",
          first is not None and first.status == 401
          and 'realm="example.test"' in (first.header("WWW-Authenticate") or "")
          and len(first.headers_named("Via")) == 1, show(first))
    check("alice's REGISTER with the digest: 200", final is not None and final.status == 200,
          show(final))
    token = None
    if final is not None:
        paths = final.headers_named("Path")
        m = re.search(r"sip:([0-9a-f]{36})@" + re.escape(f"{EDGE_INT}:{ports['int']}") +
                      r";transport=tls;lr;ob", " ".join(paths))
        check("Kamailio stored and echoes the Path the edge added (flow token on the internal "
              "address)", m is not None, paths)
        token = m.group(1) if m else None
        check("the 200 lists alice's Contact", alice.c.via_host in (final.header("Contact") or ""),
              show(final))

    # ---------------------------------------------------------------- 2. alice calls bob
    first, final = register(bob, "bob", "secret-bob", bob_contact)
    check("bob registers at Kamailio directly (an internal user)",
          final is not None and final.status == 200, f"{show(first)}\n{show(final)}")
    d = call(alice, bob, alice_aor, bob_aor, alice_contact, bob_contact, "alice calls bob")
    if d:
        inv = d["invite_at_callee"]
        rr = inv.headers_named("Record-Route")
        check("alice calls bob: the INVITE carries Kamailio's Record-Route above the edge's two "
              "(inward flow token, outward FQDN)",
              len(rr) == 3 and DIRECTOR in rr[0]
              and re.search(r"sip:[0-9a-f]{36}@" + re.escape(EDGE_INT), rr[1]) is not None
              and "edge.example.test" in rr[2], rr)
        ack = in_dialog("ACK", alice, d["caller_target"], d["caller_route"], d["call_id"],
                        d["caller_from"], d["caller_to"], 1)
        alice.send(ack)
        got = bob.request("ACK", d["call_id"], timeout=5)
        check("alice calls bob: the ACK follows the route set through the edge and Kamailio",
              got is not None, f"route {d['caller_route']}")
        # bob is the UAS: From is his To (with his tag), To is alice's From
        bye = in_dialog("BYE", bob, d["callee_target"], d["callee_route"], d["call_id"],
                        d["caller_to"], d["caller_from"], 1)
        bob.send(bye)
        got = alice.request("BYE", d["call_id"], timeout=5)
        check("alice calls bob: bob's BYE reaches alice (Kamailio, then the edge's flow-token "
              "entry)", got is not None, f"route {d['callee_route']}")
        if got:
            alice.send(response_to(got, 200, "OK"))
        r = bob.final(d["call_id"], "BYE", 5)
        check("alice calls bob: 200 for the BYE back to bob", r is not None and r.status == 200,
              show(r))

    # ---------------------------------------------------------------- 3. bob calls alice
    d = call(bob, alice, bob_aor, alice_aor, bob_contact, device_contact, "bob calls alice")
    if d:
        inv = d["invite_at_callee"]
        vias = inv.headers_named("Via")
        check("bob calls alice: Kamailio followed the Path; the edge relayed over alice's flow "
              "(its Via on top, the Path's Route popped, to her registered Contact)",
              vias and vias[0].startswith(f"SIP/2.0/TLS edge.example.test:{ports['ext']};")
              and not inv.headers_named("Route") and inv.uri == alice_contact,
              show(inv))
        check("bob calls alice: the 200's Record-Route keeps the ACK and BYE on the edge (it "
              "names the edge's flow token)",
              any(token and token in v for v in d["caller_route"]), d["caller_route"])
        ack = in_dialog("ACK", bob, d["caller_target"], d["caller_route"], d["call_id"],
                        d["caller_from"], d["caller_to"], 1)
        bob.send(ack)
        got = alice.request("ACK", d["call_id"], timeout=4)
        check("bob calls alice: the ACK reaches alice through the edge (over her flow)",
              got is not None,
              f"route set {d['caller_route']}, target {d['caller_target']}; "
              f"at her device's address instead: {[m.start for m, _ in device.messages]}")
        bye = in_dialog("BYE", bob, d["caller_target"], d["caller_route"], d["call_id"],
                        d["caller_from"], d["caller_to"], 2)
        bob.send(bye)
        got = alice.request("BYE", d["call_id"], timeout=5)
        check("bob calls alice: bob's BYE reaches alice through the edge", got is not None,
              f"at her device's address instead: {[m.start for m, _ in device.messages]}")
        if got:
            alice.send(response_to(got, 200, "OK"))
        r = bob.final(d["call_id"], "BYE", 6)
        check("bob calls alice: 200 for the BYE back to bob", r is not None and r.status == 200,
              show(r))

    # ---------------------------------------------------------------- 4. alice hangs up
    d = call(bob, alice, bob_aor, alice_aor, bob_contact, device_contact, "bob calls alice again")
    if d:
        ack = in_dialog("ACK", bob, d["caller_target"], d["caller_route"], d["call_id"],
                        d["caller_from"], d["caller_to"], 1)
        bob.send(ack)
        alice.request("ACK", d["call_id"], timeout=2)
        # alice is the UAS: her route set is the INVITE's Record-Route, her target bob's Contact
        bye = in_dialog("BYE", alice, d["callee_target"], d["callee_route"], d["call_id"],
                        d["caller_to"], d["caller_from"], 1)
        alice.send(bye)
        bob_got = bob.request("BYE", d["call_id"], timeout=5)
        check("alice hangs up: her BYE goes through the edge and Kamailio to bob",
              bob_got is not None, f"route {d['callee_route']}")
        if bob_got:
            bob.send(response_to(bob_got, 200, "OK"))
        r = alice.final(d["call_id"], "BYE", 5)
        check("alice hangs up: 200 back to alice", r is not None and r.status == 200, show(r))

    time.sleep(0.3)
    check("nothing reached alice's device address directly (everything went through the edge)",
          not device.messages and not device.errors,
          f"{[m.start for m, _ in device.messages]} {device.errors}")
    m1 = peers.edge_metrics(edge)
    d = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1}
    check("counters: no forged or failed flow, no timeout, no member down",
          d.get("sip_flow_forged") == 0 and d.get("sip_flow_failed") == 0
          and d.get("txn_timeouts") == 0 and m1.get("pool_member_down") == 0
          and d.get("sip_no_route_out") == 0,
          {k: d.get(k) for k in ("sip_flow_forged", "sip_flow_failed", "txn_timeouts",
                                 "sip_no_route_out", "sip_requests_relayed")})


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
