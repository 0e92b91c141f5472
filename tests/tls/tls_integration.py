#!/usr/bin/env python3
"""tls_integration.py TLS_PEER SRCDIR - tls/ face to face with real TLS peers.

tls_peer (a TLS echo server or client built on tls/) meets `openssl s_client`, `openssl s_server`
and Python's ssl module: handshakes, SNI, mutual TLS, name verification, expired and broken
certificates, resumption, STARTTLS, close_notify, reload, handshake timeout, backpressure, ALPN,
KeyUpdate and renegotiation.
Certificates come fresh from mkcerts.sh into a temporary directory. Every process is started and
stopped here by its own PID, listens on 127.0.0.1 only, and every wait has a deadline. Each check
prints `ok NAME` or `FAIL NAME: detail`; the last line is `N passed, M failed`.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HOST = "127.0.0.1"
SANITIZER = re.compile(
    r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:)")

PEER = ""  # the tls_peer binary
TMP = ""  # certificates and scratch files
passed = 0
failed = 0


def report(name, ok, detail="", info=""):
    """One check: ok, or FAIL with detail. info is shown either way (measurements)."""
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}" + (f" ({info})" if info else ""), flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def cert(name):
    return os.path.join(TMP, name)


def tail(text, n=1500):
    """The end of a process's output for a failure message, without s_client's hex dumps."""
    text = re.sub(r"(?m)^\s*[0-9a-f]{4} - [0-9a-f -]{2,}.*\n?", "", text).strip()
    return text if len(text) <= n else "..." + text[-n:]


# ---------------------------------------------------------------- processes


class Proc:
    """A child process whose output is collected by a thread, to be waited on with deadlines."""

    running = []  # every Proc not yet stopped, for the cleanup after each case

    def __init__(self, name, argv, stdin=False, env=None):
        self.name = name
        self.out = ""
        self.err = ""
        self.cond = threading.Condition()
        self.p = subprocess.Popen(argv, cwd=TMP,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.threads = [
            threading.Thread(target=self._pump, args=(self.p.stdout, "out"), daemon=True),
            threading.Thread(target=self._pump, args=(self.p.stderr, "err"), daemon=True)]
        for t in self.threads:
            t.start()
        Proc.running.append(self)

    def _pump(self, f, attr):
        while True:
            chunk = f.read1(65536) if hasattr(f, "read1") else f.read(65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                setattr(self, attr, getattr(self, attr) + chunk.decode("utf-8", "replace"))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.out)

    def wait_for(self, pattern, timeout, since=0, stderr_too=False):
        """The first match of pattern in the output (from offset since), or None at the deadline
        or when the process has ended without it."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                text = self.out[since:] + (("\n" + self.err) if stderr_too else "")
                m = rx.search(text)
                if m:
                    return m
                left = deadline - time.monotonic()
                ended = self.p.poll() is not None and not any(t.is_alive() for t in self.threads)
                if left <= 0 or ended:
                    return None
                self.cond.wait(min(left, 0.1))

    def send(self, data):
        try:
            self.p.stdin.write(data.encode())
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def wait_exit(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self.threads:
            t.join(timeout=2)
        return rc

    def stop(self, sig=signal.SIGTERM, grace=5):
        """End the process (sig, then SIGKILL after grace seconds); its exit status, or None when
        it had to be killed."""
        rc = self.p.poll()
        if rc is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            rc = self.wait_exit(grace)
            if rc is None:
                self.p.kill()
                self.p.wait(timeout=5)
        for t in self.threads:
            t.join(timeout=2)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass
        if self in Proc.running:
            Proc.running.remove(self)
        return rc

    def text(self):
        with self.cond:
            return self.out + ("\n[stderr]\n" + self.err if self.err.strip() else "")


class Server(Proc):
    """tls_peer server on 127.0.0.1, port picked by the kernel."""

    def __init__(self, *args, expect_listen=True, env=None):
        super().__init__("tls_peer server", [PEER, "server", HOST, "0", *args], env=env)
        self.port = None
        if expect_listen:
            m = self.wait_for(r"^LISTENING (\d+)$", 10)
            if not m:
                raise RuntimeError("tls_peer server did not listen: " + tail(self.text()))
            self.port = int(m.group(1))

    def finish(self, name):
        """SIGTERM: the server closes everything and exits 0 with clean sanitizer output."""
        rc = self.stop(signal.SIGTERM, grace=10)
        bad = SANITIZER.search(self.err)
        return report(f"{name}: server exits cleanly", rc == 0 and not bad,
                      f"exit status {rc}; " + tail(self.text()))


def run_peer_client(port, *args, timeout=15):
    """tls_peer client to port; returns (exit status or None, output)."""
    p = Proc("tls_peer client", [PEER, "client", HOST, str(port), *args])
    rc = p.wait_exit(timeout)
    if rc is None:
        p.stop(signal.SIGKILL)
    else:
        p.stop()
    return rc, p.text()


def s_client(port, *args, data="ping-echo-7431\n", echo=True, timeout=10):
    """openssl s_client to port: send data, wait for its echo (or the end of s_client), then close
    standard input so that s_client says goodbye. Returns (exit status, output, echoed)."""
    p = Proc("s_client", ["openssl", "s_client", "-connect", f"{HOST}:{port}", *args], stdin=True)
    echoed = False
    if data:
        # the handshake first: data sent before it is written after it anyway
        p.send(data)
        if echo:
            echoed = p.wait_for(re.escape(data.strip()), timeout) is not None
        else:
            p.wait_for(r"^DONE|closed|alert|errno", timeout, stderr_too=True)
    p.close_stdin()
    rc = p.wait_exit(5)
    if rc is None:
        rc = p.stop(signal.SIGTERM)
    else:
        p.stop()
    return rc, p.text(), echoed


def s_server(*args):
    """openssl s_server on 127.0.0.1 (one connection); returns (Proc, port)."""
    p = Proc("s_server", ["openssl", "s_server", "-accept", f"{HOST}:0", "-naccept", "1", *args],
             stdin=True)
    m = p.wait_for(r"^ACCEPT .*:(\d+)$", 10)
    if not m:
        p.stop()
        raise RuntimeError("s_server did not start: " + tail(p.text()))
    return p, int(m.group(1))


def peer_cert_sans(output):
    """Subject and subjectAltName of the server certificate s_client printed."""
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", output, re.S)
    if not m:
        return None, None
    r = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName"],
                       input=m.group(0).encode(), capture_output=True, timeout=10)
    text = r.stdout.decode()
    subj = re.search(r"^subject=(.*)$", text, re.M)
    sans = re.findall(r"DNS:([^,\s]+)", text)
    return (subj.group(1).strip() if subj else None), sans


def ssl_context(client_cert=None):
    ctx = ssl.create_default_context(cafile=cert("ca.pem"))
    if client_cert:
        ctx.load_cert_chain(cert(client_cert + ".pem"), cert(client_cert + ".key"))
    return ctx


def tls_connect(port, name="edge.example", timeout=10):
    raw = socket.create_connection((HOST, port), timeout=timeout)
    return ssl_context().wrap_socket(raw, server_hostname=name)


def recv_until(sock, needle, timeout=10, limit=1 << 20):
    """Read from sock until needle shows up, the peer ends, the deadline or limit bytes."""
    buf = b""
    deadline = time.monotonic() + timeout
    for _ in range(10000):
        left = deadline - time.monotonic()
        if needle in buf or left <= 0 or len(buf) > limit:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        buf += chunk
    return buf


def server_line(srv, pattern, since=0, timeout=5):
    m = srv.wait_for(pattern, timeout, since)
    return m.group(0) if m else None


# ---------------------------------------------------------------- cases


def case_handshake():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"))
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-servername", "edge.example",
                               "-verify_return_error")
    report("1 handshake: s_client negotiates TLSv1.3 and verifies the chain",
           re.search(r"New, TLSv1\.3, Cipher is", out) and "Verify return code: 0 (ok)" in out,
           tail(out))
    report("1 handshake: data echoed back to s_client", echoed, tail(out))
    line = server_line(srv, r"^HANDSHAKE .*$")
    report("1 handshake: server logs HANDSHAKE ok version=TLSv1.3",
           line and line.startswith("HANDSHAKE ok version=TLSv1.3 resumed=0"), tail(srv.text()))
    report("1 handshake: server logs the data, then EOF and CLOSED",
           srv.wait_for(r"^DATA 15 ping-echo-7431\n(?:.*\n)*EOF\n(?:.*\n)*CLOSED$", 5),
           tail(srv.text()))
    srv.finish("1 handshake")


def case_sni():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"),
                 "--cert", cert("alt.pem"), "--key", cert("alt.key"))
    want = {"alt.example": ("CN = alt.example", ["alt.example"]),
            "edge.example": ("CN = edge.example", ["edge.example", "*.wild.example"]),
            "x.wild.example": ("CN = edge.example", ["edge.example", "*.wild.example"]),
            "unknown.example": ("CN = edge.example", ["edge.example", "*.wild.example"]),
            None: ("CN = edge.example", ["edge.example", "*.wild.example"])}
    for sni, (subj_want, sans_want) in want.items():
        args = ["-servername", sni] if sni else ["-noservername"]
        rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), *args)
        subj, sans = peer_cert_sans(out)
        report(f"2 SNI {sni or '(none)'}: certificate {subj_want} {','.join(sans_want)}",
               subj == subj_want and sans == sans_want and echoed,
               f"got subject {subj} SANs {sans}, echoed={echoed}; " + tail(out, 600))
    srv.finish("2 SNI")


def case_mtls():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--ca", cert("ca.pem"),
                 "--verify", "required")
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-cert", cert("client.pem"),
                               "-key", cert("client.key"))
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("3 MTLS required, good client certificate: accepted, verified=1 names=client.example",
           echoed and line and "HANDSHAKE ok" in line
           and "verified=1 names=client.example " in line,
           f"echoed={echoed}; server: {line}; " + tail(out, 600))

    for label, args in (("no client certificate", []),
                        ("certificate from an untrusted CA",
                         ["-cert", cert("rogue-client.pem"), "-key", cert("rogue-client.key")])):
        at = srv.mark()
        rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), *args, echo=False)
        line = server_line(srv, r"^HANDSHAKE .*$", at)
        alert = re.search(
            r"alert (certificate required|unknown ca|handshake failure|bad certificate)", out)
        report(f"3 MTLS required, {label}: refused by the server",
               line and line.startswith("HANDSHAKE fail peer certificate not verified"),
               f"server: {line}")
        report(f"3 MTLS required, {label}: s_client gets an alert and no echo",
               not echoed and alert and "ping-echo" not in out, tail(out, 800))
    srv.finish("3 MTLS required")

    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--ca", cert("ca.pem"),
                 "--verify", "optional")
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"))
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("3 MTLS optional, no client certificate: accepted with verified=0",
           echoed and line and line.startswith("HANDSHAKE ok") and "verified=0 names=- " in line,
           f"echoed={echoed}; server: {line}; " + tail(out, 600))
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-cert", cert("client.pem"),
                               "-key", cert("client.key"))
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("3 MTLS optional, good client certificate: verified=1",
           echoed and line and "verified=1 names=client.example " in line, f"server: {line}")
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-cert",
                               cert("rogue-client.pem"), "-key", cert("rogue-client.key"),
                               echo=False)
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("3 MTLS optional, untrusted client certificate: refused",
           not echoed and line and line.startswith("HANDSHAKE fail"), f"server: {line}")
    srv.finish("3 MTLS optional")


def case_outbound_names():
    checks = (("edge.example", True), ("x.wild.example", True), ("a.b.wild.example", False),
              ("wild.example", False), ("other.example", False))
    for name, ok in checks:
        srv, port = s_server("-cert", cert("server.pem"), "-key", cert("server.key"), "-rev")
        rc, out = run_peer_client(port, "--ca", cert("ca.pem"), "--name", name, "--send",
                                  "hello edge\n")
        srv.stop()
        if ok:
            good = (rc == 0 and re.search(r"^HANDSHAKE ok .*verified=1 .*matches=1$", out, re.M)
                    and re.search(r"^DATA 11 egde olleh$", out, re.M))
            report(f"4 outbound --name {name}: accepted, data through s_server -rev", good,
                   tail(out))
        else:
            good = (re.search(r"^HANDSHAKE fail peer certificate not verified: .*hostname mismatch",
                              out, re.M) and "HANDSHAKE ok" not in out and "DATA" not in out)
            report(f"4 outbound --name {name}: refused (hostname mismatch)", good, tail(out))
        report(f"4 outbound --name {name}: client exits 0 without sanitizer reports",
               rc == 0 and not SANITIZER.search(out), f"exit {rc}; " + tail(out))

    srv, port = s_server("-cert", cert("server.pem"), "-key", cert("server.key"))
    rc, out = run_peer_client(port, "--ca", cert("ca.pem"), "--name", HOST)
    srv.stop()
    report("4 outbound --name 127.0.0.1 (an IP the certificate does not carry): refused",
           re.search(r"^HANDSHAKE fail peer certificate not verified: .*IP address mismatch", out,
                     re.M), tail(out))

    srv, port = s_server("-cert", cert("server.pem"), "-key", cert("server.key"), "-Verify", "2",
                         "-CAfile", cert("ca.pem"))
    rc, out = run_peer_client(port, "--ca", cert("ca.pem"), "--name", "edge.example", "--cert",
                              cert("client.pem"), "--key", cert("client.key"))
    got = srv.wait_for(r"^Client certificate\n(?:.*\n)*?subject=CN = client\.example$", 5)
    srv.stop()
    report("4 outbound client certificate presented to s_server -Verify",
           got and "HANDSHAKE ok" in out and rc == 0,
           tail(out) + "\ns_server: " + tail(srv.text(), 800))

    srv, port = s_server("-cert", cert("server.pem"), "-key", cert("server.key"), "-CAfile",
                         cert("rogue-ca.pem"))
    rc, out = run_peer_client(port, "--ca", cert("rogue-ca.pem"), "--name", "edge.example")
    srv.stop()
    report("4 outbound server certificate from a CA we do not trust: refused",
           re.search(r"^HANDSHAKE fail peer certificate not verified: .*unable to get local issuer",
                     out, re.M), tail(out))


def case_expired_and_broken():
    srv, port = s_server("-cert", cert("expired.pem"), "-key", cert("expired.key"))
    rc, out = run_peer_client(port, "--ca", cert("ca.pem"), "--name", "edge.example")
    srv.stop()
    report("5 outbound to an expired server certificate: refused, the error says expired",
           re.search(r"^HANDSHAKE fail peer certificate not verified: .*expired", out, re.M)
           and "HANDSHAKE ok" not in out and rc == 0, tail(out))

    def config_fail(label, args, file, words):
        p = Server(*args, expect_listen=False)
        p.wait_for(r"^(CONFIG fail|LISTENING)", 10)
        rc = p.wait_exit(2)
        if rc is None:
            p.stop(signal.SIGKILL)
        else:
            p.stop()
        out = p.text()
        m = re.search(r"^CONFIG fail (.*)$", out, re.M)
        report(f"5 {label}: CONFIG fail naming {os.path.basename(file)}, exit 1",
               rc == 1 and m and m.group(1).startswith(file + ": ") and re.search(words, m.group(1))
               and "LISTENING" not in out and not SANITIZER.search(out), f"exit {rc}; " + tail(out))

    config_fail("server with an expired certificate",
                ["--cert", cert("expired.pem"), "--key", cert("expired.key")], cert("expired.pem"),
                r"certificate expired .*2020")
    config_fail("server with a key that does not match",
                ["--cert", cert("mismatch.pem"), "--key", cert("mismatch.key")],
                cert("mismatch.key"), r"does not match")
    missing = cert("no-such-file.pem")
    config_fail("server with a missing certificate file",
                ["--cert", missing, "--key", cert("server.key")], missing, r"certificate")
    config_fail("server with a missing key file",
                ["--cert", cert("server.pem"), "--key", missing], missing, r"key")
    config_fail("second (SNI) certificate expired",
                ["--cert", cert("server.pem"), "--key", cert("server.key"),
                 "--cert", cert("expired.pem"), "--key", cert("expired.key")], cert("expired.pem"),
                r"expired")
    config_fail("missing CA file with --verify required",
                ["--cert", cert("server.pem"), "--key", cert("server.key"), "--ca", missing,
                 "--verify", "required"], missing, r"CA")


def case_resumption():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"))
    for label, extra in (("TLSv1.3", ["-tls1_3"]), ("TLSv1.2", ["-tls1_2"])):
        sess = cert(f"session-{label}.pem")
        at = srv.mark()
        rc, out1, echoed1 = s_client(srv.port, "-CAfile", cert("ca.pem"), *extra, "-sess_out", sess)
        first = server_line(srv, r"^HANDSHAKE .*$", at)
        at = srv.mark()
        rc, out2, echoed2 = s_client(srv.port, "-CAfile", cert("ca.pem"), *extra, "-sess_in", sess)
        second = server_line(srv, r"^HANDSHAKE .*$", at)
        report(f"6 resumption {label}: first connection full, s_client says New",
               echoed1 and re.search(rf"^New, {re.escape(label)}", out1, re.M) and first
               and f"version={label} resumed=0" in first, f"server: {first}; " + tail(out1, 600))
        report(f"6 resumption {label}: second connection resumed (Reused, server resumed=1)",
               echoed2 and re.search(rf"^Reused, {re.escape(label)}", out2, re.M) and second
               and f"version={label} resumed=1" in second, f"server: {second}; " + tail(out2, 600))
    srv.finish("6 resumption")

    # with mutual TLS the client's identity must come back with the resumed session
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--ca", cert("ca.pem"),
                 "--verify", "required")
    for label, extra in (("TLSv1.3", ["-tls1_3"]), ("TLSv1.2", ["-tls1_2"])):
        sess = cert(f"session-mtls-{label}.pem")
        client = ["-cert", cert("client.pem"), "-key", cert("client.key")]
        s_client(srv.port, "-CAfile", cert("ca.pem"), *extra, *client, "-sess_out", sess)
        at = srv.mark()
        rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), *extra, *client,
                                   "-sess_in", sess)
        line = server_line(srv, r"^HANDSHAKE .*$", at)
        report(f"6 resumption {label} with MTLS: resumed=1 keeps verified=1 names=client.example",
               echoed and line and "resumed=1" in line
               and "verified=1 names=client.example " in line,
               f"server: {line}")
    srv.finish("6 resumption MTLS")


def case_starttls():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--starttls")
    raw = socket.create_connection((HOST, srv.port), timeout=10)
    try:
        raw.sendall(b"STARTTLS\n")
        got = b""
        for _ in range(100):
            if len(got) >= 8:
                break
            chunk = raw.recv(8 - len(got))  # no further: what follows is TLS
            if not chunk:
                break
            got += chunk
        report("7 STARTTLS: PROCEED after STARTTLS", got == b"PROCEED\n", repr(got))
        tls = ssl_context().wrap_socket(raw, server_hostname="edge.example")
        report("7 STARTTLS: TLS 1.3 with a verified certificate after PROCEED",
               tls.version() == "TLSv1.3" and tls.getpeercert() is not None, tls.version())
        tls.sendall(b"after starttls\n")
        echo = recv_until(tls, b"\n")
        report("7 STARTTLS: data echoed inside TLS", echo == b"after starttls\n", repr(echo))
        tls.close()
    except (OSError, ssl.SSLError) as e:
        report("7 STARTTLS: exchange", False, f"{e!r}; server: " + tail(srv.text()))
        raw.close()
    report("7 STARTTLS: server logs STARTTLS ok and the handshake",
           srv.wait_for(r"^STARTTLS ok\nHANDSHAKE ok version=TLSv1\.3", 5), tail(srv.text()))

    # Plain text before STARTTLS is seen as plain text and the upgrade still works after it.
    raw = socket.create_connection((HOST, srv.port), timeout=10)
    at = srv.mark()
    try:
        raw.sendall(b"HELLO\n")
        plain = srv.wait_for(r"^PLAIN 6$", 5, at)
        raw.sendall(b"STARTTLS\n")
        got = recv_until(raw, b"\n", limit=8)
        tls = ssl_context().wrap_socket(raw, server_hostname="edge.example")
        tls.sendall(b"x\n")
        echo = recv_until(tls, b"\n")
        tls.close()
        report("7 STARTTLS after a plain line", plain and got == b"PROCEED\n" and echo == b"x\n",
               f"{got!r} {echo!r}; " + tail(srv.text(), 600))
    except (OSError, ssl.SSLError) as e:
        report("7 STARTTLS after a plain line", False, f"{e!r}; " + tail(srv.text(), 600))
        raw.close()

    # STARTTLS and the ClientHello in one segment: the bytes after the line belong to TLS
    raw = socket.create_connection((HOST, srv.port), timeout=10)
    at = srv.mark()
    try:
        inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ssl_context().wrap_bio(inc, outg, server_hostname="edge.example")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        raw.sendall(b"STARTTLS\n" + outg.read())
        got = recv_until(raw, b"PROCEED\n", limit=8)
        rest = got[8:]
        echo = b""
        deadline = time.monotonic() + 10
        step = "handshake"
        for _ in range(1000):
            if rest:
                inc.write(rest)
                rest = b""
            try:
                if step == "handshake":
                    obj.do_handshake()
                    step = "data"
                    obj.write(b"pipelined\n")
                elif step == "data":
                    echo += obj.read(100)
                    if echo.endswith(b"\n"):
                        break
            except ssl.SSLWantReadError:
                pass
            pending = outg.read()
            if pending:
                raw.sendall(pending)
            if time.monotonic() > deadline:
                break
            raw.settimeout(max(0.1, deadline - time.monotonic()))
            rest = raw.recv(65536)
            if not rest:
                break
        raw.close()
        report("7 STARTTLS with the ClientHello in the same segment",
               got.startswith(b"PROCEED\n") and echo == b"pipelined\n",
               f"{got[:8]!r} {echo!r}; " + tail(srv.text()[at:], 600))
    except (OSError, ssl.SSLError) as e:
        report("7 STARTTLS with the ClientHello in the same segment", False,
               f"{e!r}; " + tail(srv.text()[at:], 600))
        raw.close()
    srv.finish("7 STARTTLS")


def case_close_notify():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"))
    at = srv.mark()
    try:
        tls = tls_connect(srv.port)
        tls.sendall(b"bye soon\n")
        echo = recv_until(tls, b"\n")
        tls.settimeout(5)
        plain = tls.unwrap()  # sends our close_notify, returns once the server's has come
        plain.settimeout(5)
        rest = plain.recv(100)
        plain.close()
        report("8 close_notify: Python unwrap() gets the server's close_notify, then TCP end",
               echo == b"bye soon\n" and rest == b"", f"echo {echo!r}, after unwrap {rest!r}")
    except (OSError, ssl.SSLError) as e:
        report("8 close_notify: Python unwrap() gets the server's close_notify", False,
               f"{e!r}; server: " + tail(srv.text()))
    report("8 close_notify: server logs EOF then CLOSED",
           srv.wait_for(r"^DATA 9 bye soon\n\nEOF\nCLOSED$", 5, at), tail(srv.text()))
    srv.finish("8 close_notify")

    p, port = s_server("-cert", cert("server.pem"), "-key", cert("server.key"))
    rc, out = run_peer_client(port, "--ca", cert("ca.pem"), "--name", "edge.example")
    done = p.wait_for(r"^DONE\nshutting down SSL\nCONNECTION CLOSED$", 5)
    src = p.wait_exit(5)
    p.stop()
    report("8 close_notify: s_server sees our client's close_notify (DONE, not ERROR)",
           done and "ERROR" not in p.out, tail(p.text(), 800))
    report("8 close_notify: our client sees s_server's answer (EOF, CLOSED) and exits 0",
           rc == 0 and re.search(r"^HANDSHAKE ok .*\nEOF\nCLOSED$", out, re.M) and src == 0,
           f"client exit {rc}, s_server exit {src}; " + tail(out))


def case_reload():
    live_cert, live_key = cert("live.pem"), cert("live.key")

    def install(pem, key):
        # replace both files under their names the way a deployment tool does: write, rename
        for src, dst in ((pem, live_cert), (key, live_key)):
            shutil.copyfile(src, dst + ".new")
            os.replace(dst + ".new", dst)

    install(cert("server.pem"), cert("server.key"))
    srv = Server("--cert", live_cert, "--key", live_key, "--cert", cert("alt.pem"),
                 "--key", cert("alt.key"))
    old = None
    try:
        old = tls_connect(srv.port)
        old.sendall(b"one\n")
        first = recv_until(old, b"\n")
        old_cn = dict(x[0] for x in old.getpeercert()["subject"]).get("commonName")
        report("9 reload: the first connection has cert A",
               first == b"one\n" and old_cn == "edge.example", f"{first!r} {old_cn}")

        install(cert("b.pem"), cert("b.key"))
        at = srv.mark()
        os.kill(srv.pid, signal.SIGHUP)
        line = server_line(srv, r"^RELOAD .*$", at)
        report("9 reload: SIGHUP with cert B in place -> RELOAD ok", line == "RELOAD ok", str(line))

        old.sendall(b"two\n")
        second = recv_until(old, b"\n")
        report("9 reload: the old connection still echoes", second == b"two\n", repr(second))

        rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-servername",
                                   "edge.example")
        subj, sans = peer_cert_sans(out)
        report("9 reload: a new connection gets cert B", echoed and subj == "CN = edge-b.example",
               f"subject {subj}; " + tail(out, 600))
        rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-servername",
                                   "alt.example")
        subj, sans = peer_cert_sans(out)
        report("9 reload: SNI still picks alt.example after the reload",
               echoed and subj == "CN = alt.example", f"subject {subj}")

        shutil.copyfile(cert("mismatch.key"), live_key + ".new")
        os.replace(live_key + ".new", live_key)
        at = srv.mark()
        os.kill(srv.pid, signal.SIGHUP)
        line = server_line(srv, r"^RELOAD .*$", at)
        report("9 reload: a key that does not match -> RELOAD fail naming the key file",
               line and line.startswith(f"RELOAD fail {live_key}: ") and "match" in line, str(line))
        rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-servername",
                                   "edge.example")
        subj, sans = peer_cert_sans(out)
        report("9 reload: after the failed reload new connections still get cert B",
               echoed and subj == "CN = edge-b.example", f"subject {subj}; " + tail(out, 600))

        old.sendall(b"three\n")
        third = recv_until(old, b"\n")
        report("9 reload: the first connection survives both reloads", third == b"three\n",
               repr(third))
    except (OSError, ssl.SSLError) as e:
        report("9 reload: connection", False, f"{e!r}; server: " + tail(srv.text()))
    finally:
        if old:
            old.close()
    srv.finish("9 reload")


def case_handshake_timeout():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--handshake-ms", "500")
    def stall(first_bytes):
        """Connect, send first_bytes (maybe none), wait for the server to hang up."""
        at = srv.mark()
        raw = socket.create_connection((HOST, srv.port), timeout=10)
        t0 = time.monotonic()
        try:
            raw.sendall(first_bytes)
            raw.settimeout(5)
            got = raw.recv(100)
        except OSError as e:
            got = repr(e)
        took = time.monotonic() - t0
        raw.close()
        return got, took, server_line(srv, r"^HANDSHAKE .*$", at)

    got, took, line = stall(b"")
    report("10 handshake timeout: the silent connection is closed after ~0.5 s (recv gives b'')",
           got == b"" and 0.4 <= took <= 2.0, f"recv {got!r} after {took:.2f} s")
    report("10 handshake timeout: server logs HANDSHAKE fail ... timed out",
           line and line.startswith("HANDSHAKE fail") and "timed out" in line, str(line))

    # the timeout is for the whole handshake: a client that starts and stalls is cut too
    got, took, line = stall(b"\x16\x03\x01\x00\x80\x01")  # a ClientHello never finished
    report("10 handshake timeout: a half ClientHello is cut too",
           got == b"" and took <= 2.0 and line and "timed out" in line,
           f"recv {got!r} after {took:.2f} s; server: {line}")
    srv.finish("10 handshake timeout")


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def case_backpressure():
    total, max_queue = 200_000_000, 262_144
    # ASan keeps freed blocks in a quarantine (256 MB by default), which RSS would count as growth
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=1"]))
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--flood", str(total),
                 "--max-queue", str(max_queue), env=env)
    tls = None
    try:
        rss0 = vm_rss_kib(srv.pid)
        tls = tls_connect(srv.port)
        if not srv.wait_for(r"^HANDSHAKE ok", 5):
            raise RuntimeError("no handshake: " + tail(srv.text()))
        t0 = time.monotonic()
        time.sleep(max(0.0, t0 + 1 - time.monotonic()))
        rss1 = vm_rss_kib(srv.pid)
        time.sleep(max(0.0, t0 + 3 - time.monotonic()))
        rss3 = vm_rss_kib(srv.pid)
        # flat from 1 s to 3 s, and small overall: a server that queued everything at once would
        # be flat too, at 200 MB more
        rss = f"VmRSS {rss0} kB idle, {rss1} kB at 1 s, {rss3} kB at 3 s"
        report("11 backpressure: server RSS flat while the client does not read",
               rss1 > 0 and rss3 - rss1 <= 4096, rss, info=rss)
        report("11 backpressure: server RSS within 16 MB of idle with the client stalled",
               rss0 > 0 and rss3 - rss0 <= 16384, rss)

        got = 0
        deadline = time.monotonic() + 90
        tls.settimeout(10)
        for _ in range(total // 1024 + 1000):
            if got >= total or time.monotonic() > deadline:
                break
            chunk = tls.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        report("11 backpressure: the client reads all the data", got == total,
               f"{got} of {total} bytes in {time.monotonic() - t0 - 3:.1f} s")
        m = srv.wait_for(r"^QUEUE max=(\d+)$", 10)
        report("11 backpressure: QUEUE max within max-queue + 64 KiB",
               m and int(m.group(1)) <= max_queue + 65536,
               (m.group(0) if m else "no QUEUE line") + "; " + tail(srv.text(), 400))
    except (OSError, ssl.SSLError, RuntimeError) as e:
        report("11 backpressure: exchange", False, f"{e!r}; server: " + tail(srv.text(), 600))
    finally:
        if tls:
            tls.close()
    srv.finish("11 backpressure")

    # tls_peer writes 64 KiB at a time: with a 32 KiB limit every write is larger than the whole
    # queue. It must still go out one at a time (on_drain follows), not fail forever.
    total, max_queue = 1_000_000, 32_768
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--flood", str(total),
                 "--max-queue", str(max_queue))
    tls = None
    got = 0
    try:
        tls = tls_connect(srv.port)
        deadline = time.monotonic() + 10
        for _ in range(total // 1024 + 100):
            if got >= total or time.monotonic() > deadline:
                break
            tls.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = tls.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    except (OSError, ssl.SSLError) as e:
        got = f"{got} bytes, then {e!r}"
    finally:
        if tls:
            tls.close()
    m = srv.wait_for(r"^QUEUE max=(\d+)$", 2)
    report("11 backpressure: writes larger than --max-queue on an empty queue still drain",
           got == total and m,
           f"client got {got} of {total} bytes; server: " + tail(srv.text(), 400))
    srv.finish("11 backpressure, small queue")


def case_alpn():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"), "--alpn", "sip")
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-alpn", "sip")
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("12 ALPN sip offered: s_client says ALPN protocol: sip, server alpn=sip",
           echoed and "ALPN protocol: sip" in out and line and " alpn=sip " in line,
           f"server: {line}; " + tail(out, 600))
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-alpn", "h2,sip")
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("12 ALPN h2,sip offered: sip chosen", echoed and "ALPN protocol: sip" in out,
           f"server: {line}")
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"), "-alpn", "h2", echo=False)
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("12 ALPN h2 only: refused with no_application_protocol",
           not echoed and re.search(r"alert no application protocol", out) and line
           and line.startswith("HANDSHAKE fail"), f"server: {line}; " + tail(out, 800))
    at = srv.mark()
    rc, out, echoed = s_client(srv.port, "-CAfile", cert("ca.pem"))
    line = server_line(srv, r"^HANDSHAKE .*$", at)
    report("12 ALPN not offered by the client: accepted without ALPN",
           echoed and "No ALPN negotiated" in out and line and " alpn= " in line, f"server: {line}")
    srv.finish("12 ALPN")

    p, port = s_server("-cert", cert("server.pem"), "-key", cert("server.key"), "-alpn", "sip")
    rc, out = run_peer_client(port, "--ca", cert("ca.pem"), "--name", "edge.example", "--alpn",
                              "xmpp-client", "--alpn", "sip")
    p.stop()
    report("12 ALPN from our client: s_server -alpn sip picks sip",
           rc == 0 and re.search(r"^HANDSHAKE ok .* alpn=sip ", out, re.M), tail(out))


def case_key_update_and_renegotiation():
    srv = Server("--cert", cert("server.pem"), "--key", cert("server.key"))
    p = Proc("s_client", ["openssl", "s_client", "-connect", f"{HOST}:{srv.port}", "-CAfile",
                          cert("ca.pem"), "-tls1_3", "-msg"], stdin=True)
    hs = p.wait_for(r"^\s*Verify return code: 0 \(ok\)", 10)
    # s_client "K": a KeyUpdate that asks the server to update its keys too (it goes out with the
    # next record); the server's own KeyUpdate must come before the echo, under the new keys
    p.send("K\n")
    time.sleep(0.2)
    p.send("after key update\n")
    echoed = p.wait_for(r"^after key update$", 5)
    theirs = re.search(
        r"^<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate(?:.*\n)+after key update$", p.out,
        re.M)
    p.close_stdin()
    p.wait_exit(5)
    p.stop()
    report("13 TLS 1.3 KeyUpdate from s_client: the server updates too and data still flows",
           hs and theirs and echoed, tail(p.text(), 1000))

    at = srv.mark()
    p = Proc("s_client", ["openssl", "s_client", "-connect", f"{HOST}:{srv.port}", "-CAfile",
                          cert("ca.pem"), "-tls1_2"], stdin=True)
    hs = p.wait_for(r"^\s*Verify return code: 0 \(ok\)", 10)
    p.send("R\n")  # s_client: renegotiate
    refused = p.wait_for(r"no renegotiation", 5, stderr_too=True)
    p.send("after renegotiation\n")
    p.close_stdin()
    p.wait_exit(5)
    p.stop()
    report("13 TLS 1.2 renegotiation asked by the client: refused (no_renegotiation)",
           hs and refused and "HANDSHAKE ok version=TLSv1.2" in srv.out[at:]
           and srv.out[at:].count("HANDSHAKE") == 1, tail(p.text(), 1000) + "\nserver: "
           + tail(srv.out[at:], 300))
    srv.finish("13 KeyUpdate, renegotiation")


CASES = [case_handshake, case_sni, case_mtls, case_outbound_names, case_expired_and_broken,
         case_resumption, case_starttls, case_close_notify, case_reload, case_handshake_timeout,
         case_backpressure, case_alpn, case_key_update_and_renegotiation]


def main():
    global PEER, TMP
    if len(sys.argv) < 3:
        print("usage: tls_integration.py TLS_PEER SRCDIR [CASE-SUBSTRING...]", file=sys.stderr)
        return 2
    PEER = os.path.abspath(sys.argv[1])
    srcdir = os.path.abspath(sys.argv[2])
    only = sys.argv[3:]
    TMP = tempfile.mkdtemp(prefix="edge-tls-")
    started = time.monotonic()
    try:
        r = subprocess.run([os.path.join(srcdir, "tests", "tls", "mkcerts.sh"), TMP],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            report("certificates", False, (r.stdout + r.stderr).decode(errors="replace"))
            return 1
        for c in CASES:
            if only and not any(o in c.__name__ for o in only):
                continue
            try:
                c()
            except Exception as e:  # a broken case is a failure, and the next case still runs
                report(c.__name__, False, f"{e!r}\n{traceback.format_exc()}")
            finally:
                for p in list(Proc.running):
                    p.stop(signal.SIGKILL)
    finally:
        for p in list(Proc.running):
            p.stop(signal.SIGKILL)
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"{passed} passed, {failed} failed ({time.monotonic() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
