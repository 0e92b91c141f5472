#!/usr/bin/env python3
"""test_edge_sipp.py EDGEPROXY SOURCE_DIR - SIPp on both sides of the real edge.

SIPp is the remote client (over TLS to the edge's external listener, through sipp_tls.py's
stunnel) and the internal Director (a SippTlsServer: the edge's persistent mutual-TLS pool
connection ends in a SIPp UAS running sipp/director_uas.xml). Each phase is a bounded number of
SIPp calls at a low rate, and every call must succeed:

  REGISTER     401 challenge relayed, the digest verified by the Director, Path (flow token) added
               by the edge and echoed                                  sipp/register_uac.xml
  MESSAGE      200; the Director checks the double Record-Route       sipp/message_uac.xml
  INVITE       100 from the edge, 180/200 from the Director; ACK and BYE follow the Record-Route
               set SIPp learnt ([routes], [next_url])                sipp/invite_uac.xml
  CANCEL       the Director rings and waits; CANCEL: 200 (the edge), 487 (the Director), ACK
                                                                      sipp/cancel_uac.xml
  incoming     a SIPp client registers (sipp/register_hold_uac.xml) and holds its connection; a
               SIPp "Director" connects over mutual TLS to the edge's internal listener and calls
               it with Route = the Path the edge added (sipp/inside_invite_uac.xml); the client
               answers as its out-of-call scenario (sipp/incoming_uas.xml) over its own flow;
               INVITE/180/200/ACK/BYE/200 each time. Then the client leaves and a request for
               its flow gets 430 Flow Failed.

Then the counters (SIGUSR1) and a clean exit of the ASan build. Prints PASS/FAIL lines; exit
status 1 on any FAIL. Loopback only; every process is started here and stopped by its PID.
"""
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402
import sipp_tls  # noqa: E402

SCEN = os.path.join(HERE, "sipp")
CALLS = 20
RATE = 10
# EDGE_SIPP_TRACE=1: every SIPp also writes its messages (-trace_msg) into the work directory,
# which is kept
TRACE = ["-trace_msg"] if os.environ.get("EDGE_SIPP_TRACE") else []
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)
    return ok


class Run:
    def __init__(self, work, certs, ports):
        self.work, self.certs, self.ports = work, certs, ports
        self.handles = []

    def client(self, name, scenario, calls=CALLS, rate=RATE, **kw):
        """A SIPp client (remote user) over TLS to the edge's external listener."""
        args = dict(workdir=self.work.path, target_host="127.0.0.1",
                    target_port=self.ports["ext"], server_name="edge.example.test",
                    ca=self.certs.ca, scenario=os.path.join(SCEN, scenario), rate=rate,
                    calls=calls, domain="example.test", from_user="alice",
                    from_domain="example.test", recv_timeout_ms=5000, name=name,
                    precise_rtt=False)
        args.update(kw)
        # -nd: a call that fails just fails (no BYE or CANCEL sent to clean up after it)
        args["extra_args"] = ["-nd"] + list(args.get("extra_args", [])) + TRACE
        h = sipp_tls.SippTlsClient(**args)
        self.handles.append(h)
        return h

    def run(self, label, name, scenario, **kw):
        t0 = time.monotonic()
        h = self.client(name, scenario, **kw)
        st = h.wait()
        ok = check(f"{label}: {st.expected} calls, all completed, none failed",
                   st.ok, f"{st!r} errors={st.errors[:3]}")
        if not ok:
            h.print_logs(file=sys.stdout)
        print(f"     ({label}: {time.monotonic() - t0:.1f} s, rtt {st.rtt_ms})", flush=True)
        return st


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def main():
    edge_bin = os.path.abspath(sys.argv[1])
    started = time.monotonic()
    work = peers.workdir("edge-sipp-")
    certs = peers.make_certs(work.file("certs"))
    ports = {"ext": peers.free_port(), "int": peers.free_port(), "dir": peers.free_port()}
    reglog = work.file("director-register.log")
    director = sipp_tls.SippTlsServer(
        work.path, "127.0.0.1", ports["dir"], certs.pem("director"), certs.key("director"),
        ca=certs.ca, require_client_cert=True, scenario=os.path.join(SCEN, "director_uas.xml"),
        # the edge's probes reuse one Call-ID (CSeq counting up): keep no dead calls, so each
        # probe is a new SIPp call and gets its 200
        extra_args=["-trace_logs", "-log_file", reglog, "-deadcall_wait", "0"] + TRACE,
        name="director")
    conf = peers.edge_conf(work, certs, ports["ext"], ports["int"], [f"127.0.0.1:{ports['dir']}"],
                           node_id="edge-sipp",
                           pool="health_interval = 2s\nhealth_timeout = 1s\ntransaction_timeout = 4s\n")
    edge = None
    run = Run(work, certs, ports)
    try:
        edge = peers.start([edge_bin, "--config", conf], "edgeproxy", work,
                           ready=("log", r"pool member 127\.0\.0\.1:\d+ connected"), timeout=20)
        check("the edge connects to the SIPp Director over mutual TLS", True)
        phases(run, edge, director, reglog, certs, ports)
    except Exception as e:  # noqa: BLE001 - a broken phase is a failure; clean up below
        import traceback
        check("no exception", False, f"{e!r}\n{traceback.format_exc()}")
    finally:
        for h in reversed(run.handles):
            h.stop()
        dst = director.stop()
        # REGISTER 20+1, MESSAGE 20, INVITE 20, CANCEL 20 (and the probes): every one completed
        check("the Director SIPp: every call completed (ACK and BYE included), none failed",
              dst.failed == 0 and dst.completed >= 4 * CALLS + 1, f"{dst!r} {dst.failed_detail}")
        if dst.failed:
            director.print_logs(file=sys.stdout)
        if edge:
            peers.stop(edge, grace=10)
            log = edge.log_text()
            check("edgeproxy exits cleanly on SIGTERM (sanitizers quiet)",
                  edge.popen.returncode == 0 and "Sanitizer" not in log
                  and "runtime error" not in log, f"rc={edge.popen.returncode}\n{edge.tail(4000)}")
            if failures:
                print(edge.tail(6000))
        work.cleanup(keep=bool(failures or TRACE))
    print(f"{len(failures)} failure(s) ({time.monotonic() - started:.1f} s)")
    return 1 if failures else 0


def phases(run, edge, director, reglog, certs, ports):
    m0 = peers.edge_metrics(edge)
    run.run("REGISTER with a 401 challenge relayed, digest verified, Path echoed", "register",
            "register_uac.xml")
    t0 = time.monotonic()
    # the same scenario with another password (SIPp takes no keyword inside [authentication])
    with open(os.path.join(SCEN, "register_uac.xml")) as f:
        text = f.read()
    bad = run.work.file("register_badpass_uac.xml")
    with open(bad, "w") as f:
        f.write(text.replace("password=secret-alice", "password=wrong-password"))
    h = run.client("badpass", bad, calls=3, rate=RATE, recv_timeout_ms=2000)
    st = h.wait()
    errs = read_text(os.path.join(run.work.path, "badpass-sipp0-errors.log"))
    check("REGISTER with a wrong password: the Director's digest check refuses it (403), "
          "the client's calls fail", st.completed == 0 and st.failed == 3
          and errs.count("403 Forbidden (bad digest)") == 3,
          f"{st!r} errors={st.errors[:3]} {errs[:1000]}")
    print(f"     (wrong password: {time.monotonic() - t0:.1f} s)", flush=True)
    run.run("MESSAGE", "message", "message_uac.xml", service="bob")
    run.run("INVITE/ACK/BYE along the Record-Route set", "invite", "invite_uac.xml",
            service="bob")
    run.run("INVITE then CANCEL: 200 for the CANCEL, 487 for the INVITE", "cancel",
            "cancel_uac.xml", service="slow")
    m1 = peers.edge_metrics(edge)
    d = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1}
    # 20 REGISTER calls are 2 transactions each (and the 3 with a wrong password); MESSAGE 1;
    # INVITE 2 (INVITE, BYE: the ACK is no transaction); CANCEL 1 (the INVITE; the CANCEL
    # rides on it)
    want_txn = CALLS * (2 + 1 + 2 + 1) + 3 * 2
    check("counters: one transaction toward the pool per relayed request, none lost",
          d.get("txn_created") == want_txn and d.get("txn_timeouts") == 0
          and d.get("txn_no_member") == 0 and d.get("sip_local_replies", 0) >= CALLS * 3,
          {k: d.get(k) for k in ("txn_created", "txn_timeouts", "txn_no_member",
                                 "sip_local_replies", "txn_retries")})

    # ---------------------------------------------------------------- incoming over the flow
    before = read_text(reglog).count("REGISTERED")
    holder = run.client("holder", "register_hold_uac.xml", calls=1, rate=1,
                        recv_timeout_ms=40000,
                        extra_args=["-oocsf", os.path.join(SCEN, "incoming_uas.xml")])
    deadline = time.monotonic() + 10
    reg = None
    while time.monotonic() < deadline and reg is None:
        regs = re.findall(r"REGISTERED call-id=(\S+) path=(\S+)", read_text(reglog))
        if len(regs) > before:
            reg = regs[-1]
        time.sleep(0.1)
    if not check("the holding client registers (Director logs its Call-ID and Path)",
                 reg is not None, read_text(reglog)[-500:]):
        holder.print_logs(file=sys.stdout)
        return
    call_id, path = reg
    route = f"<{path}>"
    t0 = time.monotonic()
    inside = sipp_tls.SippTlsClient(
        run.work.path, "127.0.0.1", ports["int"], "edge-int.example.test", certs.ca,
        cert=certs.pem("director"), key=certs.key("director"),
        scenario=os.path.join(SCEN, "inside_invite_uac.xml"), rate=RATE, calls=CALLS,
        service="alice", domain="example.test", from_user="bob", from_domain="example.test",
        keys={"route": route}, recv_timeout_ms=5000, name="inside", precise_rtt=False,
        extra_args=["-nd"] + TRACE)
    run.handles.append(inside)
    st = inside.wait()
    if not check(f"incoming: {CALLS} INVITEs from the inside reach the SIPp client over its flow "
                 "(INVITE/180/200/ACK/BYE/200)", st.ok, f"{st!r} errors={st.errors[:3]}"):
        inside.print_logs(file=sys.stdout)
        holder.print_logs(file=sys.stdout)
    print(f"     (incoming: {time.monotonic() - t0:.1f} s, rtt {st.rtt_ms})", flush=True)

    # the signal: a MESSAGE on the registration's Call-ID ends the holder's call
    ictx = peers.client_context(certs, "director", server_name_check=False)
    inner = peers.SipTlsClient("127.0.0.1", ports["int"], ictx, None, timeout=5)
    try:
        done = peers.request("MESSAGE", "sip:alice@example.test", via_host=inner.via_host,
                             from_uri="sip:bob@example.test", to_uri="sip:alice@example.test",
                             call_id=call_id, headers=[("Route", route)], body=b"bye",
                             content_type="text/plain")
        r = inner.transact(done, timeout=5)
        check("a MESSAGE from the inside along the Path: the client's 200 comes back",
              r is not None and r.status == 200, repr(r))
        hst = holder.wait(timeout=15)
        check("the holding client's call (REGISTER, 401, REGISTER, 200, MESSAGE) succeeded",
              hst.ok, f"{hst!r} errors={hst.errors[:3]}")
        if not hst.ok:
            holder.print_logs(file=sys.stdout)
        # the client has gone: its flow is closed
        r = None
        for _ in range(20):
            late = peers.request("MESSAGE", "sip:alice@example.test", via_host=inner.via_host,
                                 from_uri="sip:bob@example.test",
                                 headers=[("Route", route)], body=b"late",
                                 content_type="text/plain")
            r = inner.transact(late, timeout=5)
            if r is None or r.status == 430:
                break
            time.sleep(0.2)  # stunnel may take a moment to close the TLS side
        check("after the client disconnected: 430 Flow Failed for its flow",
              r is not None and r.status == 430, repr(r))
    finally:
        inner.close()

    # the holder's SIPp: every incoming INVITE went to the out-of-call scenario, and nothing
    # else went wrong there (a failed check_it, an unexpected or discarded message)
    errs = read_text(os.path.join(run.work.path, "holder-sipp0-errors.log"))
    ooc = errs.count("Received out-of-call INVITE message, using the out-of-call scenario")
    other = re.sub(r"\S+\t\S+\t\S+: Received out-of-call INVITE message, using the "
                   r"out-of-call scenario", "", errs).replace("The following events occurred:",
                                                             "").strip()
    check(f"the client answered the {CALLS} incoming calls in its out-of-call scenario, "
          "without an error", ooc == CALLS and not other, f"{ooc} ooc INVITEs; {other[:800]}")

    m2 = peers.edge_metrics(edge)
    check("counters: sip_flow_failed counted, nothing forged, no transaction timed out, the "
          "Director never marked down (its probes answered)",
          m2.get("sip_flow_failed", 0) >= 1 and m2.get("txn_timeouts") == 0
          and m2.get("sip_flow_forged") == 0 and m2.get("pool_member_down") == 0
          and m2.get("pool_probe_failed") == 0 and m2.get("pool_probes", 0) >= 1,
          {k: m2.get(k) for k in ("sip_flow_failed", "txn_timeouts", "sip_flow_forged",
                                  "pool_member_down", "pool_probes", "pool_probe_failed")})


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
