#!/usr/bin/env python3
"""test_edge_failover.py EDGEPROXY SOURCE_DIR - a Director pool member dies under load and comes
back, and no client transaction is lost.

Two Kamailio Directors (kamailio/director.cfg.in; director1/director2 certificates, both
carrying director.example.test; each answers MESSAGE to sink.example.test with 200 itself) are
the edge's [pool] (health_interval 500 ms, transaction_timeout 2 s). SIPp (sipp_tls.py, TLS to
the edge's external listener) sends MESSAGE at 300/s for 8 s over 2 connections. Three seconds
in, director1 gets SIGTERM (its whole process group). Checks:

  - every MESSAGE transaction completed with 200 (SIPp: completed == expected, failed == 0):
    what was in flight on director1 went to director2 (the edge's retry), nothing timed out
  - both Directors served part of the load before the stop; director2 all of it after
  - the edge's counters (SIGUSR1, the metrics: line): pool_member_down, txn_retries; its log
    says "pool member ... is down"
  - director1 started again on the same address: the edge reconnects and logs "pool member ...
    is up" (pool_member_up counted), and a second short load reaches director1 again
  - the edge exits cleanly (ASan build: sanitizers quiet)

Prints PASS/FAIL lines; exit status 1 on any FAIL. Loopback only; every process is started here
and stopped by its PID / process group, every wait is bounded.
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
import sipp_tls  # noqa: E402

D1, D2 = "127.0.0.3", "127.0.0.4"
RATE, SECONDS, CONNECTIONS = 300, 8, 2
STOP_AFTER_S = 3.0
SINK = "sink.example.test"
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)
    return ok


def edge_conf(work, certs, ports):
    # the load is 150/s per connection, with catch-up bursts: the rate limit is not under test
    return peers.edge_conf(work, certs, ports["ext"], ports["int"],
                           [f"{D1}:{ports['d1']}", f"{D2}:{ports['d2']}"], node_id="edge-failover",
                           pool="health_interval = 500ms\nhealth_timeout = 400ms\n"
                           "transaction_timeout = 2s\n",
                           limits="requests_per_second = 2000\n")


def sink_count(h):
    """MESSAGEs to the sink domain this Kamailio logged (its xlog line per request)."""
    return len(re.findall(r"DIRECTOR request MESSAGE sip:\S+@" + re.escape(SINK), h.log_text()))


def unexpected(work, name):
    """{first line: count} of the messages that failed the SIPp calls of client `name`."""
    out = {}
    for i in range(CONNECTIONS):
        try:
            with open(work.file(f"{name}-sipp{i}-errors.log"), errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for line in re.findall(r"call on unexpected message.*?received '([^\r\n]*)", text):
            out[line] = out.get(line, 0) + 1
    return out


def load(work, certs, ports, name, rate, calls, connections, service="slow"):
    return sipp_tls.SippTlsClient(
        work.path, "127.0.0.1", ports["ext"], "edge.example.test", certs.ca,
        scenario="message_uac", rate=rate, calls=calls, connections=connections, service=service,
        domain=SINK, from_user="alice", from_domain="example.test", recv_timeout_ms=5000,
        name=name, precise_rtt=True,
        # -nd: a failed call just fails (SIPp sends no BYE/CANCEL after it)
        extra_args=["-nd"])


def main():
    edge_bin = os.path.abspath(sys.argv[1])
    started = time.monotonic()
    work = peers.workdir("edge-failover-")
    edge = None
    clients = []
    try:
        certs = peers.make_certs(work.file("certs"))
        ports = {"ext": peers.free_port(), "int": peers.free_port(), "d1": peers.free_port(D1),
                 "d2": peers.free_port(D2)}
        d1 = peers.start_kamailio_director(work, certs, D1, ports["d1"], name="director1",
                                           cert="director1")
        d2 = peers.start_kamailio_director(work, certs, D2, ports["d2"], name="director2",
                                           cert="director2")
        edge = peers.start([edge_bin, "--config", edge_conf(work, certs, ports)], "edgeproxy",
                           work, timeout=20,
                           ready=lambda: len(re.findall(r"pool member \S+ connected",
                                                        edge_log(work))) >= 2)
        check("the edge connects to both Directors (director1/director2 certificates, pool name "
              "director.example.test)", True)
        run(work, certs, ports, edge, d1, d2, clients)
    except Exception as e:  # noqa: BLE001 - a broken step is a failure; clean up below
        check("no exception", False, f"{e!r}\n{traceback.format_exc()}")
    finally:
        for c in clients:
            c.stop()
        if edge:
            peers.stop(edge, grace=10)
            log = edge.log_text()
            check("edgeproxy exits cleanly on SIGTERM (sanitizers quiet)",
                  edge.popen.returncode == 0 and "Sanitizer" not in log
                  and "runtime error" not in log, f"rc={edge.popen.returncode}\n{edge.tail(3000)}")
        peers.stop_all()
        if failures:
            peers.dump_logs(n=4000)
            for c in clients:
                c.print_logs(file=sys.stdout)
        work.cleanup(keep=bool(failures))
    print(f"{len(failures)} failure(s) ({time.monotonic() - started:.1f} s)")
    return 1 if failures else 0


def edge_log(work):
    try:
        with open(work.file("edgeproxy.log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def run(work, certs, ports, edge, d1, d2, clients):
    m0 = peers.edge_metrics(edge)
    calls = RATE * SECONDS
    t0 = time.monotonic()
    c = load(work, certs, ports, "load", RATE, calls, CONNECTIONS)
    clients.append(c)
    time.sleep(STOP_AFTER_S)
    before = (sink_count(d1), sink_count(d2))
    log_at_stop = len(edge.log_text())
    rc = peers.stop(d1)
    stopped_at = time.monotonic() - t0
    check(f"director1 stopped (SIGTERM to its process group) {stopped_at:.1f} s into the load",
          rc is not None and not d1.pids(), f"status {rc}, left {d1.pids()}")
    st = c.wait(timeout=SECONDS * 3 + 20)
    print(f"     (load: {st!r})", flush=True)
    check(f"all {calls} MESSAGEs completed with 200, none failed, across the stop",
          st.completed == calls and st.failed == 0 and not st.timed_out
          and all(r == 0 for r in st.returncodes),
          f"{st!r}; what the failed calls got instead: {unexpected(work, 'load')}")
    after = (sink_count(d1), sink_count(d2))
    check("both Directors served load before the stop",
          before[0] > 0 and before[1] > 0, f"director1 {before[0]}, director2 {before[1]}")
    check("director2 served the rest after the stop",
          after[1] > before[1] and after[0] + after[1] >= calls,
          f"director1 {after[0]} (at stop {before[0]}), director2 {after[1]} "
          f"(at stop {before[1]}), {calls} sent")
    down = edge.wait_log(r"pool member " + re.escape(f"{D1}:{ports['d1']}") + r" is down",
                         timeout=5, since=log_at_stop)
    check("the edge logs director1 down", down is not None, edge.tail(2000))
    m1 = peers.edge_metrics(edge)
    d = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1}
    print("     (edge: " + " ".join(f"{k}={d.get(k)}" for k in (
        "txn_created", "txn_retries", "txn_timeouts", "pool_member_down", "pool_connect_failed",
        "pool_probe_failed")) + ")", flush=True)
    check("counters: director1 marked down, in-flight transactions retried on director2, none "
          "timed out or refused",
          d.get("pool_member_down", 0) >= 1 and d.get("txn_retries", 0) >= 1
          and d.get("txn_timeouts") == 0 and d.get("txn_no_member") == 0,
          {k: d.get(k) for k in ("pool_member_down", "txn_retries", "txn_timeouts",
                                 "txn_no_member", "pool_connect_failed", "pool_probe_failed",
                                 "txn_created")})

    # ---------------------------------------------------------------- director1 comes back
    log_at_restart = len(edge.log_text())
    d1b = peers.start_kamailio_director(work, certs, D1, ports["d1"], name="director1-again",
                                        cert="director1")
    t1 = time.monotonic()
    # the edge reconnects with exponential backoff (at most 10 s), then up_after good probes
    up = edge.wait_log(r"pool member " + re.escape(f"{D1}:{ports['d1']}") + r" is up",
                       timeout=25, since=log_at_restart)
    check("director1 restarted: the edge logs it up again", up is not None,
          edge.log_text()[log_at_restart:][-2000:])
    print(f"     (marked up {time.monotonic() - t1:.1f} s after the restart)", flush=True)
    m2 = peers.edge_metrics(edge)
    check("counters: pool_member_up counted", m2.get("pool_member_up", 0) >= 1,
          {k: m2.get(k) for k in ("pool_member_up", "pool_member_down")})
    c2 = load(work, certs, ports, "load-again", 100, 200, 2)
    clients.append(c2)
    st = c2.wait(timeout=30)
    check("a second load after the restart: all 200 MESSAGEs completed",
          st.completed == 200 and st.failed == 0 and st.ok, f"{st!r} errors={st.errors[:3]}")
    check("the restarted director1 serves its share again", sink_count(d1b) > 0,
          f"director1 (again) {sink_count(d1b)}, director2 {sink_count(d2)}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
