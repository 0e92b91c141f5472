#!/usr/bin/env python3
"""demo.py - IMs flowing through a running edge, with a live counter (scripts/run --demo).

Starts edgeproxy on the default configuration, a demo Director on the pool address the
configuration names (mutual TLS, the test certificates) and a demo remote client on the
remote-user listener. The client registers (the Director records the edge's Path), then every
200 ms sends an IM in through the edge; the Director answers each with 200 and sends one IM back
out through the edge over the client's flow (routed by the Path the edge added). One status line
shows what got through each way and the edge's own counters (SIGUSR1).
"""
import argparse
import configparser
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import peers  # noqa: E402
from peers import request, response_to  # noqa: E402


def hostport(v):
    h, _, p = v.rpartition(":")
    return h.strip("[]"), int(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edge", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--certs", required=True)
    ap.add_argument("--seconds", type=float, default=0)
    a = ap.parse_args()
    cp = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    cp.read(a.config)
    ext = next(s for s in cp.sections() if s.startswith("listener ")
               and cp[s].get("side", "external") == "external")
    ext_host, ext_port = hostport(cp[ext]["address"])
    dir_host, dir_port = hostport(cp["pool"]["members"].replace(",", " ").split()[0])
    certs = peers.Certs(a.certs)
    work = peers.workdir("edge-demo-")

    state = {"in": 0, "out": 0, "flow": None, "stop": False}
    lock = threading.Lock()

    def director(m, conn):
        if m.is_response or m.method == "ACK":
            return None
        if m.method == "REGISTER":
            with lock:
                state["flow"] = (m.header("Path"), m.header("Contact"), conn)
            return response_to(m, 200, "OK", [("Contact", m.header("Contact") or "*")])
        if m.method == "MESSAGE":
            with lock:
                state["in"] += 1
            return response_to(m, 200, "OK")
        return response_to(m, 200, "OK")

    srv = peers.SipTlsServer(dir_host, dir_port, peers.server_context(certs, "director"),
                             responder=director)
    edge = peers.start([a.edge, "--config", a.config], "edgeproxy", work,
                       ready=lambda: peers.port_open(ext_host, ext_port), timeout=15)
    print(f"demo: edge on {ext_host}:{ext_port}, demo Director on {dir_host}:{dir_port}, "
          f"edge log in {edge.log_path}", flush=True)
    signal.signal(signal.SIGINT, lambda *_: state.update(stop=True))
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    try:
        ctx = peers.client_context(certs)
        deadline = time.monotonic() + 15
        cli = None
        while cli is None and time.monotonic() < deadline:
            try:
                cli = peers.SipTlsClient(ext_host, ext_port, ctx, "edge.example.test")
            except OSError:
                time.sleep(0.2)
        contact = f"<sip:alice@{cli.via_host};transport=tls>"
        r = cli.transact(request("REGISTER", "sip:example.test", via_host=cli.via_host,
                                 from_uri="sip:alice@example.test",
                                 to_uri="sip:alice@example.test",
                                 headers=[("Contact", contact), ("Expires", "3600")]), 15)
        print(f"demo: REGISTER through the edge: {r.status if r else 'no answer'}", flush=True)

        def client_reader():
            while not state["stop"]:
                try:
                    m = cli.recv(0.5)
                except OSError:
                    return
                if m is None:
                    continue
                if not m.is_response and m.method == "MESSAGE":
                    cli.send(response_to(m, 200, "OK"))
                    with lock:
                        state["out"] += 1

        reader = threading.Thread(target=client_reader, daemon=True)
        reader.start()
        start = time.monotonic()
        n = 0
        while not state["stop"] and (a.seconds <= 0 or time.monotonic() - start < a.seconds):
            n += 1
            cli.send(request("MESSAGE", "sip:bob@example.test", via_host=cli.via_host,
                             cseq=n, headers=[("Content-Type", "text/plain")],
                             body=f"hello #{n} from alice".encode()))
            with lock:
                flow = state["flow"]
            if flow and flow[0]:
                route = flow[0]
                uri = re.sub(r"^<|>.*$", "", flow[1] or "<sip:alice@example.test>")
                flow[2].send(request("MESSAGE", uri, via_host="director.example.test:5061",
                                     from_uri="sip:bob@example.test", cseq=n,
                                     headers=[("Route", route), ("Content-Type", "text/plain")],
                                     body=f"reply #{n} from bob".encode()))
            time.sleep(0.2)
            if n % 5 == 0:
                since = len(edge.log_text())
                os.kill(edge.pid, signal.SIGUSR1)
                line = edge.wait_log(r"metrics:[^\n]*", timeout=2, since=since)
                relayed = ""
                if line:
                    t = edge.log_text()[since:]
                    mreq = re.search(r"sip_requests_relayed=(\d+)", t)
                    mres = re.search(r"sip_responses_relayed=(\d+)", t)
                    relayed = (f" | edge relayed {mreq.group(1) if mreq else '?'} requests, "
                               f"{mres.group(1) if mres else '?'} responses")
                with lock:
                    print(f"\rIMs sent {n} | at the Director {state['in']} | "
                          f"back at the client {state['out']}{relayed}   ", end="", flush=True)
        print()
        state["stop"] = True
        reader.join(timeout=2)
        cli.close()
    finally:
        peers.stop(edge)
        srv.close()
        work.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
