"""peers.py - the shared helpers of the integration tests and benchmarks (stdlib only).

Real peers (Kamailio, haproxy, SIPp, edgeproxy itself) are started here as child processes with
their own configuration in a temporary directory, on 127.0.0.0/8 only, and stopped by the PID
(or the process group) this module recorded when it started them; nothing else is ever signalled.
Every wait has a deadline and every loop a bound.

API (each function and class below has its own docstring):

  Work directories and certificates
    workdir(prefix)                  -> Work: .path, .file(name), .cleanup(keep=False)
    make_certs(dir)                  run mkcerts_sip.sh DIR; returns a Certs (certs.pem("director"),
                                     certs.key("director"), certs.ca, certs.rogue_ca ...)
    client_context(certs, cert=None, ca=True, server_name_check=True)
    server_context(certs, cert, client_cert="required"|"optional"|"none")

  Addresses
    free_port(host)                  a TCP port the kernel says is free on host
    port_open(host, port)            one TCP connect attempt
    wait_port(host, port, timeout)   until a connect succeeds

  Processes
    start(cmd, name, work, ready=..., timeout=..., new_session=False, core=None, env=None)
                                     -> Handle (.pid, .pgid, .log_path, .log_text(), .tail())
        ready: None, a callable (no arguments, truthy when ready), ("port", host, port), or
        ("log", regex) matched against the process's combined stdout+stderr log file.
        new_session=True for daemons that fork (Kamailio): the handle then owns the whole
        process group the child created, and stop() signals that group only.
    stop(handle, grace=5)            SIGTERM, SIGKILL after grace; the exit status (None if killed)
    stop_all()                       every handle still running, in reverse start order
    dump_logs(handles|None)          print the tail of each log (call it when a check failed)
    group_pids(pgid)                 PIDs of every live process in that process group
    proc_cpu_seconds(pids)           utime+stime (all threads) summed over pids, in seconds
    handle_cpu_seconds(handle)       the same for every process the handle owns
    proc_wait_seconds(pids)          time runnable but waiting for a CPU (schedstat), seconds
    pin(pid_or_cmd, core)            taskset: an int pins that PID (all its threads) and returns
                                     it; a list returns the command prefixed with taskset -c

  SIP over TLS (blocking, with timeouts)
    SipMessage.parse(bytes)          start line, headers (name, value) in order, body
    msg.header(name) / msg.headers_named(name)   compact forms understood (v, f, t, i, l...)
    request(method, uri, ...)        a request with fresh Via branch, Call-ID, tags, CSeq
    response_to(req, code, reason)   the response to a request (Via, From, To+tag, Call-ID, CSeq)
    digest_authorization(www_authenticate, method, uri, user, password)
    SipTlsClient(host, port, ctx, server_hostname)
        .send(msg), .recv(timeout) -> SipMessage, .transact(req, timeout) -> final response
        (provisional ones skipped), .close()
    SipTlsServer(host, port, ctx, responder)  accepts TLS connections in a thread, frames every
        message, answers requests with responder(msg, conn) (default: 200 OK), keeps them in
        .messages; .wait_for(pred, timeout), .close()

  Kamailio as the Director
    render(template_path, out_path, mapping)     @@NAME@@ placeholders, all must be replaced
    start_kamailio_director(work, certs, host, port, name="director", cert="director",
                            children=2) -> Handle (.addr = (host, port)); ready once an OPTIONS
                            over mutual TLS gets its 200

Logs: every process writes stdout+stderr to <work>/<name>.log; dump_logs prints their tails.
"""
import hashlib
import itertools
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
KAMAILIO_DIR = os.path.join(HERE, "kamailio")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- work dirs, certificates


class Work:
    """A temporary directory for one test or benchmark run."""

    def __init__(self, prefix="edge-it-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def file(self, name):
        return os.path.join(self.path, name)

    def cleanup(self, keep=False):
        if keep:
            print(f"peers: keeping {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def workdir(prefix="edge-it-"):
    return Work(prefix)


class Certs:
    """The certificates mkcerts_sip.sh made in dir (see that script for the list)."""

    def __init__(self, path):
        self.path = path
        self.ca = os.path.join(path, "ca.pem")
        self.rogue_ca = os.path.join(path, "rogue-ca.pem")

    def pem(self, name):
        return os.path.join(self.path, name + ".pem")

    def chain(self, name):
        return os.path.join(self.path, name + "-chain.pem")

    def key(self, name):
        return os.path.join(self.path, name + ".key")


def make_certs(path):
    """Run mkcerts_sip.sh into path (created if needed); a Certs, or RuntimeError."""
    r = subprocess.run([os.path.join(HERE, "mkcerts_sip.sh"), path], capture_output=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError("mkcerts_sip.sh failed: " + (r.stdout + r.stderr).decode(errors="replace"))
    return Certs(path)


def client_context(certs, cert=None, ca=True, server_name_check=True):
    """A TLS client context trusting the test CA (ca=True), or another CA file (ca=path), or
    nothing (ca=False: no verification); with our certificate `cert` (a name in certs) if given."""
    if ca is False:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=certs.ca if ca is True else ca)
        ctx.check_hostname = server_name_check
    if cert:
        ctx.load_cert_chain(certs.pem(cert), certs.key(cert))
    return ctx


def server_context(certs, cert, client_cert="required", ca=None):
    """A TLS server context with certificate `cert`; client certificates verified against the
    test CA (or ca) when client_cert is "required" or "optional"."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.pem(cert), certs.key(cert))
    if client_cert != "none":
        ctx.load_verify_locations(ca or certs.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if client_cert == "required" else ssl.CERT_OPTIONAL
    return ctx


# ---------------------------------------------------------------- addresses

_ports_given = set()


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host now (bound then released; not handed out twice by this
    process, so two calls in a row give two ports)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if (host, port) not in _ports_given:
            _ports_given.add((host, port))
            return port
    raise RuntimeError("free_port: no free port")


def port_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host, port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- processes


class Handle:
    """A process started by start(): its PID, its process group when it was started in a new
    session, and its log file."""

    running = []  # started and not yet stopped, in start order
    started = []  # every handle ever started (dump_logs)

    def __init__(self, name, argv, popen, log_path, new_session):
        Handle.started.append(self)
        self.name = name
        self.argv = argv
        self.popen = popen
        self.pid = popen.pid
        self.pgid = popen.pid if new_session else None
        self.log_path = log_path
        self.returncode = None
        self.addr = None

    def alive(self):
        return self.popen.poll() is None

    def pids(self):
        """Every live process this handle owns: the group when it has one, else the PID."""
        if self.pgid is not None:
            return group_pids(self.pgid)
        return [self.pid] if self.alive() else []

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, n=3000):
        t = self.log_text().strip()
        return t if len(t) <= n else "..." + t[-n:]

    def wait_log(self, pattern, timeout=10, since=0):
        """The first match of pattern in the log (from byte offset since), or None at the
        deadline or once the process has ended without it."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text()[since:])
            if m:
                return m
            if time.monotonic() > deadline or not self.alive():
                return None
            time.sleep(0.05)

    def __repr__(self):
        return f"<{self.name} pid {self.pid}>"


def _ready_now(ready, handle):
    if ready is None:
        return True
    if callable(ready):
        return ready()
    kind = ready[0]
    if kind == "port":
        return port_open(ready[1], ready[2])
    if kind == "log":
        return re.search(ready[1], handle.log_text(), re.M) is not None
    raise ValueError(f"start: unknown ready {ready!r}")


def start(cmd, name, work, ready=None, timeout=10, new_session=False, core=None, env=None,
          cwd=None):
    """Start cmd (a list) with stdout+stderr to <work>/<name>.log; wait until ready (see the
    module docstring) or raise RuntimeError with the log's tail (the process is stopped then).
    core: pin it to that CPU with taskset. Returns a Handle."""
    argv = pin(list(cmd), core) if core is not None else list(cmd)
    log_path = os.path.join(work.path if isinstance(work, Work) else work, name + ".log")
    log = open(log_path, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             cwd=cwd or (work.path if isinstance(work, Work) else work), env=env,
                             start_new_session=new_session)
    finally:
        log.close()
    h = Handle(name, argv, p, log_path, new_session)
    Handle.running.append(h)
    deadline = time.monotonic() + timeout
    while True:
        try:
            ok = _ready_now(ready, h)
        except Exception:  # a probe that raised is a probe that is not ready yet
            ok = False
        if ok:
            return h
        if not h.alive():
            rc = stop(h)
            raise RuntimeError(f"{name} exited (status {rc}) before it was ready: {h.tail()}")
        if time.monotonic() > deadline:
            stop(h)
            raise RuntimeError(f"{name} not ready after {timeout} s: {h.tail()}")
        time.sleep(0.05)


def _signal(h, sig):
    try:
        if h.pgid is not None:
            os.killpg(h.pgid, sig)
        elif h.alive():
            os.kill(h.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(h, grace=5):
    """SIGTERM to the process (to its group when it has one), SIGKILL after grace seconds; waits
    for the group to empty. The exit status, or None when it had to be killed."""
    if h.returncode is not None and not h.pids():
        return h.returncode
    _signal(h, signal.SIGTERM)
    rc = None
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        rc = h.popen.poll()
        if rc is not None and not h.pids():
            break
        time.sleep(0.05)
    else:
        _signal(h, signal.SIGKILL)
        try:
            h.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for _ in range(100):
            if not h.pids():
                break
            time.sleep(0.05)
        rc = None
    h.returncode = rc if rc is not None else h.popen.poll()
    if h in Handle.running:
        Handle.running.remove(h)
    return rc


def stop_all():
    for h in reversed(list(Handle.running)):
        stop(h)


def dump_logs(handles=None, n=3000):
    """Print the tail of each handle's log (every handle started so far when None)."""
    for h in handles or Handle.started:
        print(f"---- {h.name} (pid {h.pid}) log {h.log_path} ----\n{h.tail(n)}", flush=True)


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def group_pids(pgid):
    """Every live (non-zombie) process whose process group is pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        f = _stat_fields(int(d))
        # f[0] state, f[1] ppid, f[2] pgrp
        if f and f[0] != "Z" and int(f[2]) == pgid:
            out.append(int(d))
    return out


def proc_cpu_seconds(pids):
    """utime+stime of each process in pids (all its threads: /proc/PID/stat is per process),
    summed, in seconds. Processes that have gone count as 0."""
    total = 0
    for pid in pids:
        f = _stat_fields(pid)
        if f:
            total += int(f[11]) + int(f[12])  # fields 14 and 15: utime, stime
    return total / CLK_TCK


def handle_cpu_seconds(h):
    return proc_cpu_seconds(h.pids())


def proc_wait_seconds(pids):
    """Time the threads of pids spent runnable but waiting for a CPU (the second field of
    /proc/PID/task/TID/schedstat), summed, in seconds: on a pinned process, how much its core
    was taken by others (or by its own other threads and processes)."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return total / 1e9


def pin(pid_or_cmd, core):
    """Pin a running process (an int PID: every thread, `taskset -a -p`) to core and return the
    PID, or return the command (a list) prefixed with `taskset -c core`."""
    if isinstance(pid_or_cmd, int):
        subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid_or_cmd)], check=True,
                       stdout=subprocess.DEVNULL, timeout=10)
        return pid_or_cmd
    return ["taskset", "-c", str(core)] + list(pid_or_cmd)


# ---------------------------------------------------------------- SIP messages

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "e": "content-encoding", "s": "subject",
           "o": "event", "r": "refer-to", "b": "referred-by", "x": "session-expires",
           "u": "allow-events"}


def _canon(name):
    n = name.strip().lower()
    return COMPACT.get(n, n)


class SipMessage:
    """A parsed SIP message: start line split, headers as (name, value) in wire order."""

    def __init__(self, start, headers, body=b"", raw=b""):
        self.start = start
        self.headers = headers
        self.body = body
        self.raw = raw
        parts = start.split(" ", 2)
        self.is_response = parts[0].startswith("SIP/")
        if self.is_response:
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.method = None
            self.uri = None
        else:
            self.method, self.uri = parts[0], parts[1]
            self.status = None

    @classmethod
    def parse(cls, data):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:  # folded continuation
                n, v = headers[-1]
                headers[-1] = (n, v + " " + line.strip())
            elif ":" in line:
                n, v = line.split(":", 1)
                headers.append((n.strip(), v.strip()))
        return cls(lines[0], headers, body, data)

    def headers_named(self, name):
        """Every value of that header, split at top-level commas for the list headers (Via,
        Route, Record-Route, Path, Supported...), in order."""
        want = _canon(name)
        vals = [v for n, v in self.headers if _canon(n) == want]
        if want in ("via", "route", "record-route", "path", "supported", "require",
                    "proxy-require", "allow", "contact"):
            out = []
            for v in vals:
                out.extend(split_list(v))
            return out
        return vals

    def header(self, name, default=None):
        vals = self.headers_named(name)
        return vals[0] if vals else default

    def cseq_method(self):
        c = self.header("CSeq", "")
        return c.split()[-1] if c else None

    def __bytes__(self):
        return self.raw or serialize(self.start, self.headers, self.body)

    def __repr__(self):
        return f"<SipMessage {self.start!r}>"


def split_list(value):
    """Split a header value at commas outside <>, quotes."""
    out, cur, depth, quoted = [], "", 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def serialize(start, headers, body=b""):
    """A wire message; Content-Length is set from the body (any given one is replaced)."""
    if isinstance(body, str):
        body = body.encode()
    lines = [start] + [f"{n}: {v}" for n, v in headers if _canon(n) != "content-length"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_seq = itertools.count(1)


def via_branch(via):
    """The branch parameter of a Via value (None without one)."""
    m = re.search(r";\s*branch=([^;,\s]+)", via or "", re.I)
    return m.group(1) if m else None


def branch():
    return "z9hG4bK-t%08x%04x" % (random.getrandbits(32), next(_seq) % 0x10000)


def tag():
    return "%08x" % random.getrandbits(32)


def request(method, uri, via_host="127.0.0.1:5061", from_uri="sip:alice@example.test",
            to_uri=None, call_id=None, cseq=1, headers=(), body=b"", transport="TLS",
            from_tag=None, to_tag=None, content_type=None, max_forwards=70):
    """A SIP request as a SipMessage: one Via with a fresh z9hG4bK branch and rport, From with a
    tag, To (with to_tag when given), Call-ID, CSeq, Max-Forwards, then extra headers."""
    to_uri = to_uri or uri
    hs = [("Via", f"SIP/2.0/{transport} {via_host};branch={branch()};rport"),
          ("Max-Forwards", str(max_forwards)),
          ("From", f"<{from_uri}>;tag={from_tag or tag()}"),
          ("To", f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else "")),
          ("Call-ID", call_id or f"{random.getrandbits(64):016x}@peers.test"),
          ("CSeq", f"{cseq} {method}")]
    hs.extend(headers)
    if body and content_type:
        hs.append(("Content-Type", content_type))
    data = serialize(f"{method} {uri} SIP/2.0", hs, body)
    return SipMessage.parse(data)


def response_to(req, code, reason, headers=(), body=b"", to_tag=None):
    """The response to req: its Via set, From, To (a tag added unless there is one or code is
    100), Call-ID and CSeq copied, then extra headers."""
    hs = [(n, v) for n, v in req.headers if _canon(n) == "via"]
    for name in ("From", "To", "Call-ID", "CSeq"):
        v = req.header(name)
        if name == "To" and code > 100 and ";tag=" not in (v or ""):
            v = f"{v};tag={to_tag or tag()}"
        hs.append((name, v))
    hs.extend(headers)
    return SipMessage.parse(serialize(f"SIP/2.0 {code} {reason}", hs, body))


def _auth_params(value):
    scheme, _, rest = value.partition(" ")
    params = {}
    for m in re.finditer(r'(\w+)\s*=\s*("([^"]*)"|[^,\s]+)', rest):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return scheme, params


def digest_authorization(www_authenticate, method, uri, user, password, nc=1):
    """The Authorization header value answering a Digest challenge (MD5, qop=auth if offered)."""
    scheme, p = _auth_params(www_authenticate)
    realm, nonce = p["realm"], p["nonce"]
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
              "algorithm=MD5"]
    qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = "%016x" % random.getrandbits(64)
        ncs = "%08x" % nc
        resp = md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        resp = md5(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{resp}"')
    if "opaque" in p:
        fields.append(f'opaque="{p["opaque"]}"')
    return "Digest " + ", ".join(fields)


class Framer:
    """Splits a SIP byte stream into messages (end of headers + Content-Length); CRLF keepalives
    between messages are skipped."""

    def __init__(self, limit=1 << 20):
        self.buf = b""
        self.limit = limit

    def feed(self, data):
        self.buf += data
        if len(self.buf) > self.limit:
            raise ValueError("SIP framing: message too large")

    def next(self):
        b = self.buf.lstrip(b"\r\n")
        end = b.find(b"\r\n\r\n")
        if end < 0:
            self.buf = b
            return None
        head = b[:end].decode("utf-8", "replace")
        m = re.search(r"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head)
        clen = int(m.group(1)) if m else 0
        total = end + 4 + clen
        if len(b) < total:
            self.buf = b
            return None
        self.buf = b[total:]
        return SipMessage.parse(b[:total])


class SipTlsClient:
    """A blocking SIP-over-TLS connection with timeouts, for tests that need exact control."""

    def __init__(self, host, port, ctx, server_hostname=None, timeout=10, source=None):
        raw = socket.create_connection((host, port), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        self.framer = Framer()
        self.local = self.sock.getsockname()

    @property
    def via_host(self):
        return f"{self.local[0]}:{self.local[1]}"

    def send(self, msg):
        data = msg if isinstance(msg, (bytes, bytearray)) else bytes(msg)
        self.sock.sendall(data)

    def recv(self, timeout=10):
        """The next framed message, or None at the deadline or when the peer closed."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            m = self.framer.next()
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            except (ssl.SSLError, OSError):
                return None
            if not chunk:
                return None
            self.framer.feed(chunk)
        return None

    def transact(self, req, timeout=10):
        """Send req; the final response matching its Via branch and CSeq (provisional responses
        and unrelated messages are skipped), or None."""
        self.send(req)
        want = via_branch(req.header("Via"))
        deadline = time.monotonic() + timeout
        for _ in range(1000):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            m = self.recv(left)
            if m is None:
                return None
            if (m.is_response and m.status >= 200 and via_branch(m.header("Via")) == want
                    and m.header("CSeq") == req.header("CSeq")):
                return m
        return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def default_responder(msg, conn):
    """200 OK to every request except ACK; responses are only recorded."""
    if msg.is_response or msg.method == "ACK":
        return None
    return response_to(msg, 200, "OK")


class SipTlsServer:
    """A TLS listener (a thread) that frames the SIP messages every connection sends, records
    them in .messages as (msg, conn) and answers each with responder(msg, conn) (a SipMessage,
    bytes, or None for no answer). conn.peer_cert is the verified client certificate (dict)."""

    class Conn:
        def __init__(self, sock, addr):
            self.sock = sock
            self.addr = addr
            self.peer_cert = sock.getpeercert()
            self.lock = threading.Lock()

        def send(self, msg):
            data = msg if isinstance(msg, (bytes, bytearray)) else bytes(msg)
            with self.lock:
                self.sock.sendall(data)

    def __init__(self, host, port, ctx, responder=default_responder):
        self.ctx = ctx
        self.responder = responder
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(64)
        self.addr = self.lsock.getsockname()
        self.messages = []
        self.errors = []
        self.conns = []
        self.cond = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closing:
            r, _, _ = select.select([self.lsock], [], [], 0.1)
            if not r:
                continue
            try:
                raw, addr = self.lsock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(raw, addr), daemon=True).start()

    def _serve(self, raw, addr):
        raw.settimeout(10)
        try:
            sock = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.cond:
                self.errors.append((addr, repr(e)))
                self.cond.notify_all()
            raw.close()
            return
        conn = SipTlsServer.Conn(sock, addr)
        with self.cond:
            self.conns.append(conn)
        framer = Framer()
        sock.settimeout(0.2)
        while not self.closing:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            framer.feed(chunk)
            for _ in range(1000):
                m = framer.next()
                if not m:
                    break
                with self.cond:
                    self.messages.append((m, conn))
                    self.cond.notify_all()
                ans = self.responder(m, conn) if self.responder else None
                if ans is not None:
                    try:
                        conn.send(ans)
                    except OSError:
                        break
        try:
            sock.close()
        except OSError:
            pass

    def wait_for(self, pred, timeout=10):
        """The first recorded (msg, conn) with pred(msg) true, or None at the deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m, c in self.messages:
                    if pred(m):
                        return m, c
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))

    def close(self):
        self.closing = True
        self.thread.join(timeout=2)
        self.lsock.close()
        with self.cond:
            for c in self.conns:
                try:
                    c.sock.close()
                except OSError:
                    pass


# ---------------------------------------------------------------- Kamailio


def render(template, out, mapping):
    """Copy template to out replacing every @@NAME@@ with mapping[NAME]; an unknown or missing
    placeholder is an error."""
    with open(template) as f:
        text = f.read()
    for k, v in mapping.items():
        text = text.replace(f"@@{k}@@", str(v))
    left = re.findall(r"@@\w+@@", text)
    if left:
        raise ValueError(f"render {template}: no value for {sorted(set(left))}")
    with open(out, "w") as f:
        f.write(text)
    return out


def kamailio_cmd(work, cfg, name, shm_mb=64, pkg_mb=8):
    """The command line of a Kamailio that stays in the foreground (-DD: the creator does not
    daemonize, children are forked in its process group), logs to stderr, and keeps its runtime
    files in the work directory."""
    rundir = os.path.join(work.path, name + "-run")
    os.makedirs(rundir, exist_ok=True)
    return ["kamailio", "-f", cfg, "-DD", "-E", "-m", str(shm_mb), "-M", str(pkg_mb),
            "-Y", rundir, "-w", rundir, "-P", os.path.join(rundir, "kamailio.pid")]


def sip_ping(host, port, ctx, server_hostname=None, timeout=3, uri=None):
    """One OPTIONS over a fresh TLS connection; the response status or None."""
    try:
        with SipTlsClient(host, port, ctx, server_hostname, timeout=timeout) as c:
            req = request("OPTIONS", uri or f"sip:{host}:{port};transport=tls",
                          via_host=c.via_host)
            r = c.transact(req, timeout=timeout)
            return r.status if r else None
    except (OSError, ssl.SSLError):
        return None


def start_kamailio_director(work, certs, host, port, name="director", cert="director",
                            children=2, debug=2, alias="director.example.test",
                            fr_timer=5000, timeout=20, core=None, ping_cert="edge-internal"):
    """Kamailio as the Director (kamailio/director.cfg.in) on tls:host:port, presenting `cert`
    both as server and as client; ready once an OPTIONS over mutual TLS (client cert
    `ping_cert`) gets 200. The Handle owns Kamailio's process group; .addr is (host, port)."""
    tls_cfg = render(os.path.join(KAMAILIO_DIR, "tls.cfg.in"), work.file(name + "-tls.cfg"),
                     {"KEY": certs.key(cert), "CERT": certs.pem(cert), "CA": certs.ca})
    cfg = render(os.path.join(KAMAILIO_DIR, "director.cfg.in"), work.file(name + ".cfg"),
                 {"DEBUG": debug, "ALIAS": alias, "LISTEN": f"{host}:{port}", "TLS_CFG": tls_cfg,
                  "CHILDREN": children, "FR_TIMER": fr_timer})
    ctx = client_context(certs, ping_cert, server_name_check=False)
    h = start(kamailio_cmd(work, cfg, name), name, work, new_session=True, core=core,
              ready=lambda: sip_ping(host, port, ctx) == 200, timeout=timeout)
    h.addr = (host, port)
    return h


# ---------------------------------------------------------------- edgeproxy


def edge_conf(work, certs, ext, internal, members, node_id="edge-test", federation=None,
              pool="", limits="", sip="", log="info", ext_host="127.0.0.1",
              int_host="127.0.0.1", extra=""):
    """Write an edgeproxy configuration into the work directory and return its path: a remote-user
    listener on ext_host:ext, an internal listener on int_host:internal (mutual TLS), optionally
    a federation listener (client certificates optional) on ext_host:federation, the pool
    `members` ("host:port" strings) with the edge-internal client certificate, and extra lines
    for [pool], [limits], [sip] and after everything (`extra`: whole sections)."""
    text = f"""[node]
id = {node_id}
external_fqdn = edge.example.test
internal_address = {int_host}
state_dir = {work.path}/state

[listener remote]
address = {ext_host}:{ext}
side = external
cert = {certs.pem('edge-external')}
key = {certs.key('edge-external')}
"""
    if federation:
        text += f"""
[listener federation]
address = {ext_host}:{federation}
side = external
cert = {certs.pem('edge-external')}
key = {certs.key('edge-external')}
ca = {certs.ca}
client_cert = optional
"""
    text += f"""
[listener internal]
address = {int_host}:{internal}
side = internal
cert = {certs.pem('edge-internal')}
key = {certs.key('edge-internal')}
ca = {certs.ca}

[pool]
members = {", ".join(members)}
server_name = director.example.test
cert = {certs.pem('edge-internal')}
key = {certs.key('edge-internal')}
ca = {certs.ca}
{pool}
[limits]
{limits}
[sip]
{sip}
[log]
level = {log}
{extra}"""
    path = work.file("edge.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def edge_metrics(edge, timeout=5):
    """SIGUSR1 to a running edgeproxy, then the counters of the metrics: line it printed, as a
    dict ({} if none came). Its stderr is unbuffered, so the line is awaited to its end."""
    since = len(edge.log_text())
    os.kill(edge.pid, signal.SIGUSR1)
    m = edge.wait_log(r"^metrics:([^\n]*)\n", timeout=timeout, since=since)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))} if m else {}
