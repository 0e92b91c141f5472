"""xmpp_peers.py - the XMPP peers of the integration tests and benchmarks: Prosody 0.12 (its own
configuration, data directory and resolver per instance) and dnsmasq serving SRV/A records, each
started through peers.start and stopped by its PID.

  prosody_config(work, name, domain, cert, key, ca, s2s_port, c2s_port, dns_port,
                 direct_port=None, level="debug") -> path of the config
  start_prosody(work, name, cfg, c2s_port, users)    users: [(user, domain, password)]
  start_dnsmasq(work, name, port, records)           records: ("srv", name, target, port) or
                                                     ("host", name, ip)

Prosody's resolver (net.dns, without lua-unbound) reads /etc/resolv.conf and asks port 53 only:
the test plugin mod_testdns (written next to each config) points it at the test's dnsmasq.
"""
import os
import subprocess

import peers

HOST = "127.0.0.1"

TESTDNS_LUA = r"""
-- mod_testdns: point Prosody 0.12's resolver (net.dns: /etc/resolv.conf, port 53) at the test's
-- dnsmasq. Test fixture only.
local dns = require "net.dns";
local R = getmetatable(dns.resolver());
local addr = module:get_option_string("test_dns_server", "127.0.0.1");
local port = module:get_option_number("test_dns_port", 53);
R.adddefaultnameservers = function(self) self:addnameserver(addr); end
local orig = R.socket_wrapper_set;
R.socket_wrapper_set = function(self, func)
    return orig(self, function(sock, resolver)
        local h, err = func(sock, resolver);
        if not h then return h, err; end
        local sp = h.setpeername;
        h.setpeername = function(hh, peer) return sp(hh, peer, port); end
        return h;
    end);
end
module:log("info", "DNS: %s port %d", addr, port);
"""


def prosody_config(work, name, domain, cert, key, ca, s2s_port, c2s_port, dns_port,
                   direct_port=None, level="debug"):
    data = work.file(name + "-data")
    os.makedirs(data, exist_ok=True)
    plugins = work.file("plugins")
    os.makedirs(plugins, exist_ok=True)
    with open(os.path.join(plugins, "mod_testdns.lua"), "w") as f:
        f.write(TESTDNS_LUA)
    direct = f"s2s_direct_tls_ports = {{ {direct_port} }}\n" if direct_port else ""
    cfg = f"""-- {name}: written by test_xmpp_federation.py
run_as_root = true
daemonize = false
pidfile = "{work.file(name + '.pid')}"
data_path = "{data}"
plugin_paths = {{ "{plugins}" }}
interfaces = {{ "{HOST}" }}
c2s_ports = {{ {c2s_port} }}
s2s_ports = {{ {s2s_port} }}
{direct}http_ports = {{ }}
https_ports = {{ }}
log = {{ {{ levels = {{ min = "{level}" }}, to = "console" }} }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "posix";
                    "testdns" }}
modules_disabled = {{ "s2s_bidi"; "offline"; "c2s_bidi" }}
test_dns_server = "{HOST}"
test_dns_port = {dns_port}
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = true
s2s_secure_auth = false
s2s_timeout = 20
ssl = {{ certificate = "{cert}"; key = "{key}"; cafile = "{ca}" }}
VirtualHost "{domain}"
    ssl = {{ certificate = "{cert}"; key = "{key}"; cafile = "{ca}" }}
"""
    path = work.file(name + ".cfg.lua")
    with open(path, "w") as f:
        f.write(cfg)
    return path


def start_prosody(work, name, cfg, c2s_port, users):
    for user, domain, pw in users:
        r = subprocess.run(["prosodyctl", "--config", cfg, "register", user, domain, pw],
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"prosodyctl register {user}@{domain}: {r.stdout} {r.stderr}")
    return peers.start(["prosody", "--config", cfg, "-F"], name, work,
                       ready=("port", HOST, c2s_port), timeout=20)


def start_dnsmasq(work, name, port, records):
    """dnsmasq answering only from records (srv=(name, target, port) / host=(name, ip)), no
    upstream, everything else NXDOMAIN."""
    args = ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--no-daemon", f"--port={port}", f"--listen-address={HOST}", "--bind-interfaces",
            "--log-queries", "--log-facility=-", f"--pid-file={work.file(name + '.pid')}",
            "--local=/test/", "--local=/example/", "--user=root"]
    for kind, *rec in records:
        if kind == "srv":
            args.append(f"--srv-host={rec[0]},{rec[1]},{rec[2]},0,10")
        else:
            args.append(f"--host-record={rec[0]},{rec[1]}")
    return peers.start(args, name, work, ready=("log", r"started, version"), timeout=10)
