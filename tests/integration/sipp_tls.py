#!/usr/bin/env python3
"""sipp_tls.py - SIPp over real TLS and mutual TLS, with stunnel4 in front of Debian's SIPp.

Debian's SIPp (package sip-tester, 3.6.1) is built without TLS, so every TLS hop here is done by a
local stunnel4 (package stunnel4) that SIPp reaches over TCP on 127.0.0.0/8:

  SippTlsClient:  sipp -t t1 --TCP--> stunnel (client = yes) ==TLS/MTLS==> peer under test
  SippTlsServer:  peer under test ==TLS/MTLS==> stunnel (server) --TCP--> sipp UAS (-t tn)

Python stdlib only; importable by the integration tests and benchmarks, and runnable:

  python3 sipp_tls.py --selftest [SOURCE_DIR]     the ctest smoke test (PASS/FAIL lines)
  python3 sipp_tls.py --bench [--cpu 1] [--connections 4] [--rates 2000,4000,6000] [--duration 5]
                                                  the load generator's own limit, straight into a
                                                  SippTlsServer (no proxy in between)

API (see the docstrings):

  SippTlsClient(workdir, target_host, target_port, server_name, ca, cert=None, key=None,
                scenario="message_uac", rate=10, calls=10, connections=1, extra_args=(), cpu=None,
                service="service", domain=None, from_user="alice", from_domain="client.example",
                via_transport="TLS", keys=None, local_host="127.0.0.1", tls_min="TLSv1.3",
                tls_max=None, recv_timeout_ms=5000, precise_rtt=True, name="sipp-client")
      starts at once; .wait(timeout=None) -> SippStats; .stats -> SippStats (so far);
      .stop(); .print_logs(); .stunnel_log() ; a context manager (stop() on exit)
  SippTlsServer(workdir, listen_host, listen_port, cert, key, ca=None, require_client_cert=True,
                scenario="message_uas", cpu=None, extra_args=(), uas_host="127.0.0.1",
                tls_min="TLSv1.3", tls_max=None, name="sipp-server")
      ready when it returns; .stats -> SippStats (requests answered so far, updated once a
      second); .wait_completed(n, timeout) -> SippStats or None; .alive();
      .stop() -> SippStats; .print_logs(); .stunnel_log(); a context manager
  SippStats: expected, completed, failed, failed_detail, returncodes, elapsed_s, rate,
             rtt_ms {"n","p50","p90","p99","max","mean"}, timed_out, errors, ok

  Scenarios: "uac"/"uas"/"regexp" are SIPp's built-ins (-sn); "message_uac", "message_uas",
  "options_uas" are the files in sipp/ next to this module; anything else is an XML path.

Connections: each client connection is one SIPp process in -t t1 mode (one TCP connection for all
its calls) at rate/connections, all of them connecting to the one stunnel accept port, so the peer
under test sees exactly `connections` long-lived TLS connections. SIPp's -t tn is no substitute:
it opens a TCP connection per call and closes it when the call ends (a TLS handshake per
transaction), and its -max_socket counts SIPp's own listening sockets too.

The Request-URI of the built-in "uac" is sip:[service]@[remote_ip]:[remote_port]; SIPp is given
the real target as its remote host and stunnel's port as -rsa (where it actually connects), so
[remote_ip]:[remote_port] name the peer under test, not the loopback stunnel. Via says
SIP/2.0/TCP there ([transport]); message_uac.xml says [via_transport] (TLS by default).

Processes: every child is started with start_new_session=True, its PID recorded, and only those
PIDs are ever signalled (SIPp: SIGUSR1, its graceful quit that writes the final statistics;
stunnel: SIGTERM; then SIGKILL after a bound). stunnel runs in the foreground (foreground = yes,
pid = empty) with its configuration in the workdir; every process's output goes to a file in the
workdir. Everything listens on loopback only, SIPp's UDP control and media sockets included.
"""
import argparse
import atexit
import csv
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_DIR = os.path.join(HERE, "sipp")
BUILTIN_SCENARIOS = ("uac", "uas", "regexp")
NAMED_SCENARIOS = ("message_uac", "message_uas", "options_uas")
SIPP_MAX_SOCKET = 1024  # below the open-files limit, or SIPp complains
STOP_GRACE_S = 5.0
START_TIMEOUT_S = 10.0


def _sipp():
    path = shutil.which("sipp")
    if not path:
        raise RuntimeError("sipp not found: install sip-tester (scripts/setup)")
    return path


def _stunnel():
    path = shutil.which("stunnel4") or shutil.which("stunnel")
    if not path:
        raise RuntimeError("stunnel4 not found: install stunnel4 (scripts/setup)")
    return path


def loopback_ip(host):
    """The IPv4 loopback address host names (an address or a name such as localhost);
    ValueError for anything that is not on 127.0.0.0/8."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
        ip = ipaddress.ip_address(infos[0][4][0])
    if ip.version != 4 or not ip.is_loopback:
        raise ValueError("%s is not an IPv4 loopback address (loopback only)" % host)
    return str(ip)


def free_port(host, kind=socket.SOCK_STREAM):
    """A port the kernel says is free on host (TCP by default; SOCK_DGRAM for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tcp_listening(ip, port):
    """True when some socket listens on ip:port (or 0.0.0.0:port), from /proc/net/tcp: no probe
    connection (a connect to a client-mode stunnel would open a TLS connection to the peer)."""
    want = {"%08X:%04X" % (int.from_bytes(socket.inet_aton(a), "little"), port)
            for a in (ip, "0.0.0.0")}
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and fields[1] in want:
                    return True
    except OSError:
        pass
    return False


def _cpu_arg(cpu):
    if cpu is None:
        return []
    cpus = str(cpu)
    allowed = os.sched_getaffinity(0)
    for part in cpus.split(","):
        lo, _, hi = part.partition("-")
        for c in range(int(lo), int(hi or lo) + 1):
            if c not in allowed:
                raise ValueError("cpu %s is not available (allowed: %s)" % (c, sorted(allowed)))
    return ["taskset", "-c", cpus]


def _proc_cpu_seconds(pid):
    """utime+stime of a live process (all its threads), or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(%s)" % e
    text = _ANSI.sub("", text)
    out = [l.rstrip() for l in text.splitlines() if l.strip()]
    return "\n".join(out[-lines:])


class _Child:
    """One child process: its own session, its PID, its output in a file."""

    def __init__(self, name, cmd, log_path, cwd, stop_signal):
        self.name, self.cmd, self.log_path, self.stop_signal = name, cmd, log_path, stop_signal
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.popen.pid
        self.last_cpu = 0.0

    def poll(self):
        cpu = _proc_cpu_seconds(self.pid)
        if cpu is not None and self.popen.returncode is None:
            self.last_cpu = cpu
        return self.popen.poll()

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace=STOP_GRACE_S):
        """stop_signal, then SIGTERM, then SIGKILL, each after a bound; the exit status."""
        if self.poll() is None:
            signals = [self.stop_signal] + ([signal.SIGTERM]
                                            if self.stop_signal != signal.SIGTERM else [])
            for sig in signals:
                try:
                    self.popen.send_signal(sig)
                except ProcessLookupError:
                    break
                if self.wait(grace) is not None:
                    break
            if self.popen.poll() is None:
                try:
                    self.popen.kill()
                except ProcessLookupError:
                    pass
                self.wait(grace)
        self.log.close()
        return self.popen.returncode


def _stunnel_conf(path, service, debug="notice"):
    """A foreground stunnel configuration with one [service]; service is an ordered dict."""
    lines = ["; written by tests/integration/sipp_tls.py", "foreground = yes", "pid =",
             "syslog = no", "debug = %s" % debug, "", "[sip]"]
    for k, v in service.items():
        for item in (v if isinstance(v, list) else [v]):
            lines.append("%s = %s" % (k, item))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _tls_options(tls_min, tls_max):
    opts = {"sslVersionMin": tls_min}
    if tls_max:
        opts["sslVersionMax"] = tls_max
    # SIP messages are small: no Nagle on either side of the relay.
    opts["socket"] = ["l:TCP_NODELAY=1", "r:TCP_NODELAY=1"]
    opts["TIMEOUTclose"] = "0"
    return opts


def _scenario_args(scenario):
    if scenario in BUILTIN_SCENARIOS:
        return ["-sn", scenario], scenario
    if scenario in NAMED_SCENARIOS:
        scenario = os.path.join(SCENARIO_DIR, scenario + ".xml")
    if not os.path.isfile(scenario):
        raise ValueError("no such SIPp scenario: %s" % scenario)
    return ["-sf", os.path.abspath(scenario)], os.path.splitext(os.path.basename(scenario))[0]


def _sipp_common(local_ip):
    """Loopback-only SIPp: local, control (UDP) and media addresses; no stdin; a socket limit
    below the open-files limit."""
    return ["-i", local_ip, "-p", str(free_port(local_ip)),
            "-ci", local_ip, "-cp", str(free_port(local_ip, socket.SOCK_DGRAM)),
            "-mi", local_ip, "-nostdin", "-max_socket", str(SIPP_MAX_SOCKET)]


def _stat_time(field):
    # "2026-11-24\t15:00:47.816374\t1795532447.816374": the epoch seconds are the last part
    try:
        return float(field.split()[-1])
    except (IndexError, ValueError):
        return None


def _last_stat_row(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
    except OSError:
        return None
    if len(rows) < 2:
        return None
    return dict(zip(rows[0], rows[-1]))


def _percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def _int(row, key):
    try:
        return int(row.get(key, 0) or 0)
    except ValueError:
        return 0


def _rtt_csv(path):
    """Response times (ms, whole milliseconds) of rtd 1 from a -trace_rtt file."""
    out = []
    try:
        with open(path) as f:
            next(f, None)
            for line in f:
                parts = line.strip().split(";")
                if len(parts) >= 3 and parts[2] == "1":
                    out.append(float(parts[1]))
    except (OSError, ValueError):
        pass
    return out


def _shortmsg_rtts(path):
    """Transaction response times (ms, microsecond resolution) from a -trace_shortmsg log: each
    request SIPp sent (S) to the first final response (R, status >= 200) with its Call-ID and
    CSeq. Lines: date, time, epoch, S|R, Call-ID, "CSeq:n METHOD", start line (tab-separated)."""
    sent, out = {}, []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 7:
                    continue
                key = (parts[4], parts[5])
                if parts[3] == "S" and not parts[6].startswith("SIP/2.0"):
                    sent.setdefault(key, float(parts[2]))
                elif parts[3] == "R" and parts[6][8:9] in "23456" and key in sent:
                    out.append(round((float(parts[2]) - sent.pop(key)) * 1000.0, 3))
    except (OSError, ValueError):
        pass
    return out


class SippStats:
    """What SIPp's statistics say, summed over the SIPp processes of one handle.

    expected      calls the client was asked for (None for a server)
    completed     SuccessfulCall(C): transactions that got their 200 (a UAS: requests answered)
    failed        FailedCall(C); failed_detail: the non-zero Failed* counters by name
    returncodes   SIPp's exit codes (None while running): 0 all calls succeeded, 1 some failed,
                  97/99 stopped from outside / no call processed, 255 fatal (e.g. the TLS
                  connection was refused: stunnel closes the TCP side, SIPp gives up)
    elapsed_s     from the first SIPp start to the latest statistics line
    rate          completed / elapsed_s
    rtt_ms        transaction response times, request sent -> final response received, in ms
                  ("n", "p50", "p90", "p99", "max", "mean"): from -trace_shortmsg (microsecond
                  timestamps; precise_rtt=True, the default) or else from -trace_rtt (SIPp's
                  rtd 1, whole milliseconds)
    timed_out     wait() gave up and stopped SIPp
    errors        the fatal lines SIPp printed
    ok            every expected call completed, none failed, every SIPp exited 0, no timeout
    """

    def __init__(self):
        self.expected = None
        self.completed = 0
        self.failed = 0
        self.failed_detail = {}
        self.returncodes = []
        self.elapsed_s = 0.0
        self.rtt_ms = {"n": 0}
        self.timed_out = False
        self.errors = []

    @property
    def rate(self):
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def ok(self):
        return (self.expected is not None and self.completed == self.expected
                and self.failed == 0 and not self.timed_out
                and all(rc == 0 for rc in self.returncodes))

    def __repr__(self):
        return ("SippStats(expected=%s completed=%d failed=%d%s rc=%s elapsed=%.2fs rate=%.0f/s "
                "rtt_ms=%s%s)" % (self.expected, self.completed, self.failed,
                                  " %s" % self.failed_detail if self.failed_detail else "",
                                  self.returncodes, self.elapsed_s, self.rate, self.rtt_ms,
                                  " TIMED OUT" if self.timed_out else ""))


_LIVE = []  # every group not stopped yet: stopped at interpreter exit, whatever happened


@atexit.register
def _stop_live():
    for group in list(reversed(_LIVE)):
        group.stop()


class _SippGroup:
    """SIPp processes sharing one statistics summary."""

    def __init__(self, workdir, name):
        _LIVE.append(self)
        self.workdir, self.name = workdir, name
        self.sipps = []  # (child, stat_path, rtt_glob)
        self.stunnel = None
        self.stunnel_conf = None
        self.expected = None
        self.timed_out = False
        self.started = None

    def _start_stunnel(self, service, cpu, ready_ip, ready_port):
        self.stunnel_conf = os.path.join(self.workdir, self.name + "-stunnel.conf")
        _stunnel_conf(self.stunnel_conf, service)
        cmd = _cpu_arg(cpu) + [_stunnel(), self.stunnel_conf]
        self.stunnel = _Child(self.name + "-stunnel", cmd,
                              os.path.join(self.workdir, self.name + "-stunnel.log"),
                              self.workdir, signal.SIGTERM)
        self._wait_ready(self.stunnel, ready_ip, ready_port)

    def _start_sipp(self, index, args, cpu, scen_base, ready=None):
        tag = "%s-sipp%d" % (self.name, index)
        stat = os.path.join(self.workdir, tag + "-stat.csv")
        cmd = (_cpu_arg(cpu) + [_sipp()] + args +
               ["-trace_err", "-error_file", os.path.join(self.workdir, tag + "-errors.log"),
                "-trace_stat", "-stf", stat, "-fd", "1",
                "-trace_screen", "-screen_file", os.path.join(self.workdir, tag + "-screen.log")])
        child = _Child(tag, cmd, os.path.join(self.workdir, tag + ".out"), self.workdir,
                       signal.SIGUSR1)
        # -trace_rtt names its file <scenario>_<pid>_rtt.csv in the working directory
        self.sipps.append((child, stat, os.path.join(self.workdir,
                                                     "%s_%d_rtt.csv" % (scen_base, child.pid))))
        if self.started is None:
            self.started = time.time()
        if ready:
            self._wait_ready(child, *ready)
        return child

    def _wait_ready(self, child, ip, port):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if child.poll() is not None:
                break
            if tcp_listening(ip, port):
                return
            time.sleep(0.02)
        msg = "%s did not listen on %s:%d (exit status %s)\n%s" % (
            child.name, ip, port, child.popen.returncode, _tail(child.log_path))
        self.stop()
        raise RuntimeError(msg)

    def children(self):
        return ([self.stunnel] if self.stunnel else []) + [c for c, _, _ in self.sipps]

    def poll(self):
        for c in self.children():
            c.poll()

    def cpu_seconds(self):
        """CPU seconds (utime+stime) each process used, last seen: {"sipp": s, "stunnel": s}."""
        self.poll()
        return {"sipp": sum(c.last_cpu for c, _, _ in self.sipps),
                "stunnel": self.stunnel.last_cpu if self.stunnel else 0.0}

    @property
    def stats(self):
        st = SippStats()
        st.expected = self.expected
        st.timed_out = self.timed_out
        first, last = None, None
        rtts = []
        for child, stat, rtt in self.sipps:
            st.returncodes.append(child.popen.poll())
            row = _last_stat_row(stat)
            if row:
                st.completed += _int(row, "SuccessfulCall(C)")
                st.failed += _int(row, "FailedCall(C)")
                for k, v in row.items():
                    if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)":
                        n = _int(row, k)
                        if n:
                            name = k[len("Failed"):-3]
                            st.failed_detail[name] = st.failed_detail.get(name, 0) + n
                t0 = _stat_time(row.get("StartTime", ""))
                t1 = _stat_time(row.get("CurrentTime", ""))
                if t0 is not None and t1 is not None:
                    first = t0 if first is None else min(first, t0)
                    last = t1 if last is None else max(last, t1)
            short = stat.replace("-stat.csv", "-short.log")
            if os.path.exists(short):
                rtts += _shortmsg_rtts(short)
            else:
                rtts += _rtt_csv(rtt)
            for line in _tail(child.log_path, 400).splitlines():
                if ("rror" in line or "closed" in line) and line not in st.errors \
                        and len(st.errors) < 10:
                    st.errors.append(line.strip())
        if first is not None:
            st.elapsed_s = max(0.0, last - first)
        rtts.sort()
        if rtts:
            st.rtt_ms = {"n": len(rtts), "p50": _percentile(rtts, 50),
                         "p90": _percentile(rtts, 90), "p99": _percentile(rtts, 99),
                         "max": rtts[-1], "mean": round(sum(rtts) / len(rtts), 3)}
        return st

    def stunnel_log(self):
        try:
            with open(self.stunnel.log_path, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def logs(self, lines=40):
        out = []
        if self.stunnel_conf:
            out.append("==== %s ====\n%s" % (self.stunnel_conf, _tail(self.stunnel_conf, 60)))
        for c in self.children():
            out.append("==== %s (pid %d, exit %s): %s ====\n%s" % (
                c.name, c.pid, c.popen.poll(), " ".join(c.cmd), _tail(c.log_path, lines)))
        for _, stat, _ in self.sipps:
            err = stat.replace("-stat.csv", "-errors.log")
            if os.path.exists(err) and os.path.getsize(err):
                out.append("==== %s ====\n%s" % (err, _tail(err, lines)))
        return "\n".join(out)

    def print_logs(self, lines=40, file=None):
        print(self.logs(lines), file=file or sys.stderr, flush=True)

    def stop(self):
        """Stops SIPp (SIGUSR1: the final statistics are written), then stunnel; idempotent."""
        for c, _, _ in self.sipps:
            c.poll()
            c.stop()
        if self.stunnel:
            self.stunnel.poll()
            self.stunnel.stop()
        if self in _LIVE:
            _LIVE.remove(self)
        return self.stats

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class SippTlsClient(_SippGroup):
    """SIPp as a TLS (or mutual TLS, with cert and key) client of target_host:target_port.

    One stunnel (client = yes; verifyChain, CAfile = ca, checkHost = sni = server_name, the
    client certificate if given, TLS 1.3 unless tls_min says otherwise) accepts on a free port of
    local_host; `connections` SIPp processes in -t t1 mode each open one TCP connection to it,
    hence one TLS connection each to the target, and run calls/connections calls at
    rate/connections per second. Starts at once; wait() for the result.

    scenario   "message_uac" (default; keys below), "uac" (INVITE/ACK/BYE, Via says TCP), or
               an XML path (gets the same -s and -key arguments)
    service    -s, the Request-URI user; domain: the Request-URI/To domain (default server_name)
    keys       more -key NAME VALUE pairs for a custom scenario
    extra_args appended to every SIPp command line (e.g. ["-trace_msg"])
    cpu        a core (or a taskset list) for stunnel and every SIPp
    """

    def __init__(self, workdir, target_host, target_port, server_name, ca, cert=None, key=None,
                 scenario="message_uac", rate=10, calls=10, connections=1, extra_args=(),
                 cpu=None, service="service", domain=None, from_user="alice",
                 from_domain="client.example", via_transport="TLS", keys=None,
                 local_host="127.0.0.1", tls_min="TLSv1.3", tls_max=None, recv_timeout_ms=5000,
                 precise_rtt=True, name="sipp-client"):
        super().__init__(os.path.abspath(workdir), name)
        os.makedirs(self.workdir, exist_ok=True)
        if (cert is None) != (key is None):
            raise ValueError("cert and key go together")
        if calls < 1 or rate <= 0 or connections < 1:
            raise ValueError("calls >= 1, rate > 0 and connections >= 1")
        self.target = (loopback_ip(target_host), int(target_port))
        local_ip = loopback_ip(local_host)
        self.calls, self.rate = int(calls), float(rate)
        self.expected = self.calls
        self.recv_timeout_ms = int(recv_timeout_ms)
        self.accept = (local_ip, free_port(local_ip))

        service_opts = {
            "client": "yes",
            "accept": "%s:%d" % self.accept,
            "connect": "%s:%d" % self.target,
            "sni": server_name,
            "checkHost": server_name,
            "verifyChain": "yes",
            "CAfile": os.path.abspath(ca),
        }
        if cert:
            service_opts["cert"] = os.path.abspath(cert)
            service_opts["key"] = os.path.abspath(key)
        service_opts.update(_tls_options(tls_min, tls_max))
        self._start_stunnel(service_opts, cpu, *self.accept)

        scen_args, scen_base = _scenario_args(scenario)
        all_keys = {"domain": domain or server_name, "from_user": from_user,
                    "from_domain": from_domain, "via_transport": via_transport}
        all_keys.update(keys or {})
        key_args = []
        for k, v in all_keys.items():
            key_args += ["-key", k, str(v)]
        n = min(int(connections), self.calls)
        try:
            for i in range(n):
                calls_i = self.calls // n + (1 if i < self.calls % n else 0)
                rate_i = self.rate * calls_i / self.calls
                budget = calls_i / rate_i + self.recv_timeout_ms / 1000.0 + 5
                args = (["%s:%d" % self.target, "-rsa", "%s:%d" % self.accept, "-t", "t1"] +
                        _sipp_common(local_ip) + scen_args + ["-s", service] + key_args +
                        ["-r", "%.6g" % rate_i, "-m", str(calls_i),
                         "-recv_timeout", str(self.recv_timeout_ms),
                         "-timeout", "%ds" % int(budget + 1), "-timeout_error",
                         "-trace_rtt", "-rtt_freq", "1"])
                if precise_rtt:
                    args += ["-trace_shortmsg", "-shortmessage_file",
                             os.path.join(self.workdir, "%s-sipp%d-short.log" % (name, i))]
                self._start_sipp(i, args + list(extra_args), cpu, scen_base)
        except BaseException:
            self.stop()
            raise
        self.budget_s = self.calls / self.rate + self.recv_timeout_ms / 1000.0 + 10

    def wait(self, timeout=None):
        """Until every SIPp has exited (at most timeout s; default: calls/rate + recv timeout +
        10 s, after which SIPp is stopped and the stats say timed_out); stops stunnel; the
        SippStats."""
        deadline = time.monotonic() + (self.budget_s if timeout is None else timeout)
        while time.monotonic() < deadline:
            self.poll()
            if all(c.popen.returncode is not None for c, _, _ in self.sipps):
                break
            time.sleep(0.05)
        else:
            self.timed_out = True
        return self.stop()


class SippTlsServer(_SippGroup):
    """A SIPp UAS behind a TLS (mutual TLS with ca and require_client_cert) stunnel.

    stunnel listens on listen_host:listen_port (cert/key; with ca: verifyChain = yes and
    CAfile, plus requireCert = yes when require_client_cert; TLS 1.3 unless tls_min says
    otherwise) and forwards each TLS connection it accepted as one TCP connection to a SIPp UAS
    in -t tn mode on uas_host (a free port), which answers each request on the connection it came
    in on. Ready (both listening) when the constructor returns.

    scenario   "message_uas" (default: 200 to MESSAGE and OPTIONS), "options_uas", "uas"
               (SIPp's INVITE/BYE answerer) or an XML path
    """

    def __init__(self, workdir, listen_host, listen_port, cert, key, ca=None,
                 require_client_cert=True, scenario="message_uas", cpu=None, extra_args=(),
                 uas_host="127.0.0.1", tls_min="TLSv1.3", tls_max=None, name="sipp-server"):
        super().__init__(os.path.abspath(workdir), name)
        os.makedirs(self.workdir, exist_ok=True)
        if require_client_cert and not ca:
            raise ValueError("require_client_cert needs the ca that signs the client certs")
        self.listen = (loopback_ip(listen_host), int(listen_port))
        uas_ip = loopback_ip(uas_host)
        scen_args, scen_base = _scenario_args(scenario)
        try:
            common = _sipp_common(uas_ip)
            self.uas = (uas_ip, int(common[common.index("-p") + 1]))
            args = ["-t", "tn"] + common + scen_args + list(extra_args)
            self._start_sipp(0, args, cpu, scen_base, ready=self.uas)
            service_opts = {
                "accept": "%s:%d" % self.listen,
                "connect": "%s:%d" % self.uas,
                "cert": os.path.abspath(cert),
                "key": os.path.abspath(key),
            }
            if ca:
                service_opts["CAfile"] = os.path.abspath(ca)
                service_opts["verifyChain"] = "yes"
                service_opts["requireCert"] = "yes" if require_client_cert else "no"
            service_opts.update(_tls_options(tls_min, tls_max))
            self._start_stunnel(service_opts, cpu, *self.listen)
        except BaseException:
            self.stop()
            raise

    def alive(self):
        return all(c.poll() is None for c in self.children())

    def wait_completed(self, n, timeout=10.0):
        """Until the UAS has answered at least n requests (its statistics are written once a
        second, so allow for that); the SippStats, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats
            if st.completed >= n:
                return st
            if time.monotonic() >= deadline or not self.alive():
                return None
            time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# --selftest and --bench


def _make_certs(source_dir, dest):
    script = os.path.join(source_dir, "tests", "tls", "mkcerts.sh")
    subprocess.run(["bash", script, dest], check=True, timeout=60, stdout=subprocess.DEVNULL)
    return lambda name: os.path.join(dest, name)


def selftest(source_dir):
    work = tempfile.mkdtemp(prefix="sipp_tls_selftest.")
    failures = []
    handles = []

    def check(name, cond, detail, *dump):
        print("%s: %s (%s)" % ("PASS" if cond else "FAIL", name, detail), flush=True)
        if not cond:
            failures.append(name)
            for h in dump:
                h.print_logs()

    try:
        c = _make_certs(source_dir, os.path.join(work, "certs"))
        port = free_port("127.0.0.1")
        server = SippTlsServer(work, "127.0.0.1", port, c("server.pem"), c("server.key"),
                               ca=c("ca.pem"), require_client_cert=True)
        handles.append(server)

        def client(name, **kw):
            args = dict(workdir=work, target_host="127.0.0.1", target_port=port,
                        server_name="edge.example", ca=c("ca.pem"), name=name,
                        recv_timeout_ms=2000)
            args.update(kw)
            h = SippTlsClient(**args)
            handles.append(h)
            t0 = time.monotonic()
            st = h.wait(timeout=30)
            return h, st, time.monotonic() - t0

        h, st, took = client("good", cert=c("client.pem"), key=c("client.key"), rate=50, calls=50,
                             connections=2)
        accepted = server.stunnel_log().count("accepted connection")
        check("MTLS client: 50 MESSAGE at 50/s over 2 connections", st.ok and st.completed == 50,
              "%r, %.1fs" % (st, took), h, server)
        check("server saw exactly 2 TLS connections", accepted == 2,
              "%d accepted" % accepted, server)

        before = server.stunnel_log().count("accepted connection")
        h, st, took = client("nocert", rate=5, calls=5)
        check("client without a certificate fails", st.completed == 0 and not st.ok and took < 30,
              "%r, %.1fs, %s" % (st, took, st.errors[:1]), h)
        log = server.stunnel_log()
        check("server refused the handshake (no certificate)",
              "peer did not return a certificate" in log
              and log.count("accepted connection") > before, "stunnel server log", server)

        h, st, took = client("rogue", cert=c("rogue-client.pem"), key=c("rogue-client.key"),
                             rate=5, calls=5)
        check("client with the rogue certificate fails", st.completed == 0 and not st.ok
              and took < 30, "%r, %.1fs, %s" % (st, took, st.errors[:1]), h)
        check("server refused the handshake (untrusted CA)",
              "certificate verify failed" in server.stunnel_log()
              or "unable to get local issuer" in server.stunnel_log(), "stunnel server log",
              server)

        h, st, took = client("wrongname", server_name="other.example", cert=c("client.pem"),
                             key=c("client.key"), rate=5, calls=5)
        check("client checking another server name fails", st.completed == 0 and not st.ok,
              "%r, %.1fs, %s" % (st, took, st.errors[:1]), h)
        check("its stunnel rejected the server certificate",
              "CERT: No matching host name" in h.stunnel_log()
              or "certificate verify failed" in h.stunnel_log(), "stunnel client log", h)

        h, st, took = client("good-again", cert=c("client.pem"), key=c("client.key"), rate=20,
                             calls=20, connections=1)
        check("server still serves a good client", st.ok and st.completed == 20 and server.alive(),
              "%r, %.1fs" % (st, took), h, server)

        sst = server.stop()
        check("the UAS answered every good MESSAGE", sst.completed == 70 and sst.failed == 0,
              "%r" % sst, server)
    except Exception as e:  # noqa: BLE001 - report, then fail
        print("FAIL: selftest raised %s: %s" % (type(e).__name__, e), flush=True)
        failures.append("exception")
    except BaseException:  # SIGTERM (ctest's timeout) or ^C: stop everything, keep the logs
        print("FAIL: selftest interrupted; logs kept in %s" % work, flush=True)
        raise
    finally:
        for h in reversed(handles):
            h.stop()
    if failures:
        print("FAIL: %d check(s) failed; logs kept in %s" % (len(failures), work), flush=True)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("PASS: sipp_tls selftest", flush=True)
    return 0


def bench(source_dir, cpu, connections, rates, duration, keep):
    work = tempfile.mkdtemp(prefix="sipp_tls_bench.")
    c = _make_certs(source_dir, os.path.join(work, "certs"))
    port = free_port("127.0.0.1")
    server = SippTlsServer(work, "127.0.0.1", port, c("server.pem"), c("server.key"),
                           ca=c("ca.pem"), require_client_cert=True, cpu=cpu)
    print("connections=%d cpu=%s duration=%ss (client sipp+stunnel and server stunnel+sipp "
          "all on that core)" % (connections, cpu, duration), flush=True)
    print("%8s %8s %8s %9s %6s %6s %6s %6s  %s" % (
        "offered", "done", "failed", "achieved", "p50ms", "p99ms", "maxms", "cpu%",
        "cpu-s: cli-sipp cli-stunnel srv-stunnel srv-sipp"), flush=True)
    try:
        for r in rates:
            srv_cpu0 = server.cpu_seconds()
            t0 = time.monotonic()
            h = SippTlsClient(work, "127.0.0.1", port, "edge.example", c("ca.pem"),
                              cert=c("client.pem"), key=c("client.key"), rate=r,
                              calls=int(r * duration), connections=connections, cpu=cpu,
                              name="bench-%d" % r, recv_timeout_ms=5000)
            st = h.wait(timeout=duration * 4 + 15)
            cli = h.cpu_seconds()
            srv_cpu1 = server.cpu_seconds()
            wall = time.monotonic() - t0
            used = [cli["sipp"], cli["stunnel"], srv_cpu1["stunnel"] - srv_cpu0["stunnel"],
                    srv_cpu1["sipp"] - srv_cpu0["sipp"]]
            print("%8d %8d %8d %9.0f %6s %6s %6s %6.0f  %.2f %.2f %.2f %.2f%s" % (
                r, st.completed, st.failed, st.rate, st.rtt_ms.get("p50"), st.rtt_ms.get("p99"),
                st.rtt_ms.get("max"), 100.0 * sum(used) / wall, *used,
                "" if st.ok else "  NOT OK %s rc=%s" % (st.failed_detail, st.returncodes)),
                flush=True)
            time.sleep(1)
    finally:
        server.stop()
        if keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("source_dir", nargs="?", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--cpu", default=None, help="core for every process (--bench)")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rates", default="2000,4000,6000")
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the --bench work directory")
    a = ap.parse_args(argv)
    # ctest's timeout (SIGTERM) or ^C: unwind, so every child this run started is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.selftest:
        return selftest(a.source_dir)
    if a.bench:
        bench(a.source_dir, a.cpu, a.connections, [int(x) for x in a.rates.split(",")],
              a.duration, a.keep)
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
