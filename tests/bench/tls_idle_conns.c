/*
 * tls_idle_conns.c - the driver of the idle-connection memory benchmark: makes a throwaway
 * ECDSA P-256 certificate, starts one tls_idle_server and several tls_idle_client processes
 * (found beside this program), and reports how much the listener's resident memory grows per
 * idle TLS 1.3 connection. It alone starts and stops those processes, by PID, and removes its
 * temporary directory, whatever happens.
 *
 *   tls_idle_conns [N [CLIENTS]] [--warmup W] [--settle-ms MS]
 *
 * N connections in all (default 15000), spread over CLIENTS client processes (default 4) and
 * over the source addresses 127.0.0.2-127.0.0.9. The baseline is taken after W warm-up
 * connections (default 200, at most N/2) so that one-time allocations are not counted. The last
 * line reads "tls_idle: <N> conns, <B> bytes/conn" with B = growth of VmRSS / (N - W).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS  16
#define MAX_CONNS    19000 /* the listener's descriptors: hard limit 20,000 */
#define TARGET_BYTES 20480

typedef struct {
    pid_t pid;
    int in, out;    /* its standard input (ours to write) and output (ours to read) */
    char buf[1024]; /* output read but not yet consumed as lines */
    size_t len;
} child_t;

typedef struct {
    long open, handshakes, failed, rss_kb, heap_used, heap_free, heap_mmap;
} stat_t;

static child_t server = {.pid = -1, .in = -1, .out = -1};
static child_t clients[MAX_CLIENTS + 1];
static size_t nclients_started;
static char tmpdir[PATH_MAX], cert_path[PATH_MAX + 16], key_path[PATH_MAX + 16];
static char bindir[PATH_MAX];
static volatile sig_atomic_t interrupted;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted)
        ;
}

/* ---------------------------------------------------------------- child processes */

/* Wait up to ms for pid to exit; 1 when it did (and was reaped, its status in *status). */
static int reap_within(pid_t pid, unsigned ms, int *status)
{
    uint64_t end = now_ms() + ms;
    do {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        sleep_ms(20);
    } while (now_ms() < end);
    return 0;
}

/*
 * Ask a child to go (its quit command, then the end of its standard input), then TERM and KILL
 * it by PID if it lingers. Returns 0 when it exited cleanly with status 0, -1 otherwise.
 */
static int stop_child(child_t *c, const char *quit_line)
{
    int status = -1, clean = 0;
    if (c->pid <= 0)
        return 0;
    if (c->in >= 0 && quit_line) {
        ssize_t w = write(c->in, quit_line, strlen(quit_line));
        (void)w;
    }
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
    if (reap_within(c->pid, 5000, &status)) {
        clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    } else {
        kill(c->pid, SIGTERM);
        if (!reap_within(c->pid, 2000, &status)) {
            kill(c->pid, SIGKILL);
            reap_within(c->pid, 2000, &status);
        }
    }
    if (c->out >= 0)
        close(c->out);
    c->out = -1;
    c->pid = -1;
    return clean ? 0 : -1;
}

static void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    unlink(cert_path);
    unlink(key_path);
    rmdir(tmpdir);
    tmpdir[0] = '\0';
}

/* Stop every child and remove the certificates; -1 when a child did not exit cleanly. */
static int cleanup(void)
{
    int r = 0;
    for (size_t i = 0; i < nclients_started; i++) {
        if (stop_child(&clients[i], "quit\n") < 0) {
            fprintf(stderr, "tls_idle_conns: client %zu did not exit cleanly\n", i);
            r = -1;
        }
    }
    if (stop_child(&server, "quit\n") < 0) {
        fprintf(stderr, "tls_idle_conns: the listener did not exit cleanly\n");
        r = -1;
    }
    remove_tmpdir();
    return r;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tls_idle_conns: ");
    if (interrupted) {
        fprintf(stderr, "interrupted, stopping");
    } else {
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    cleanup();
    exit(1);
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Start argv[0] (a path) with pipes on its standard input and output; stderr is shared. */
static void spawn(child_t *c, char *const argv[])
{
    int in[2], out[2];
    fflush(stdout); /* nothing buffered may be written twice */
    if (pipe(in) < 0 || pipe(out) < 0)
        die("pipe: %s", strerror(errno));
    /* the other children must not hold these ends, or a closed input would never read as EOF */
    for (int i = 0; i < 2; i++) {
        fcntl(in[i], F_SETFD, FD_CLOEXEC);
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], argv);
        fprintf(stderr, "tls_idle_conns: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->pid = pid;
    c->in = in[1];
    c->out = out[0];
    c->len = 0;
}

/* The next line the child prints, within ms; NULL on timeout, end of output or interruption. */
static char *read_line(child_t *c, char *line, size_t size, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            size_t k = n < size - 1 ? n : size - 1;
            memcpy(line, c->buf, k);
            line[k] = '\0';
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return line;
        }
        if (c->len == sizeof c->buf)
            c->len = 0; /* a line longer than any the children print: drop it */
        uint64_t t = now_ms();
        if (t >= end || interrupted)
            return NULL;
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        int r = poll(&p, 1, (int)(end - t));
        if (r < 0 && errno != EINTR)
            return NULL;
        if (r <= 0)
            continue;
        ssize_t got = read(c->out, c->buf + c->len, sizeof c->buf - c->len);
        if (got <= 0)
            return NULL;
        c->len += (size_t)got;
    }
}

static void send_line(child_t *c, const char *s)
{
    size_t len = strlen(s);
    if (write(c->in, s, len) != (ssize_t)len)
        die("the listener stopped taking commands");
}

/* ---------------------------------------------------------------- the listener's figures */

static long field(const char *line, const char *name)
{
    const char *p = strstr(line, name);
    return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static stat_t query(const char *cmd)
{
    char line[512];
    stat_t st;
    send_line(&server, cmd);
    if (!read_line(&server, line, sizeof line, 10000) || strncmp(line, "STAT ", 5) != 0)
        die("no answer from the listener to '%.4s'", cmd);
    st.open = field(line, " open=");
    st.handshakes = field(line, " handshakes=");
    st.failed = field(line, " failed=");
    st.rss_kb = field(line, " rss_kb=");
    st.heap_used = field(line, " heap_used=");
    st.heap_free = field(line, " heap_free=");
    st.heap_mmap = field(line, " heap_mmap=");
    if (st.rss_kb <= 0)
        die("the listener reported no VmRSS: %s", line);
    return st;
}

/* Poll the listener until it has `want` TLS 1.3 handshakes, within ms. */
static stat_t wait_handshakes(long want, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    stat_t st;
    for (;;) {
        st = query("stat\n");
        if (st.failed > 0)
            die("the listener saw %ld failed handshakes", st.failed);
        if (st.handshakes >= want)
            return st;
        if (now_ms() >= end || interrupted)
            die("only %ld of %ld handshakes after %u ms", st.handshakes, want, ms);
        sleep_ms(100);
    }
}

/* ---------------------------------------------------------------- setup */

static void make_certs(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/tls_idle.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        tmpdir[0] = '\0';
        die("mkdtemp: %s", strerror(errno));
    }
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", tmpdir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", tmpdir);
    char *argv[] = {"openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout",
                    key_path,
                    "-out",
                    cert_path,
                    NULL};
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    uint64_t end = now_ms() + 30000;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < end && !interrupted)
        sleep_ms(20);
    if (r != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        die("openssl req did not finish");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || access(cert_path, R_OK) != 0)
        die("openssl req could not make a P-256 certificate (is the openssl CLI installed?)");
}

static void find_bindir(const char *argv0)
{
    ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);
    if (n <= 0) {
        snprintf(bindir, sizeof bindir, "%s", argv0);
        n = (ssize_t)strlen(bindir);
    }
    bindir[n] = '\0';
    char *slash = strrchr(bindir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(bindir, sizeof bindir, ".");
}

static void start_client(size_t port, size_t count)
{
    char prog[PATH_MAX + 32], ports[16], counts[24];
    child_t *c = &clients[nclients_started];
    snprintf(prog, sizeof prog, "%s/tls_idle_client", bindir);
    snprintf(ports, sizeof ports, "%zu", port);
    snprintf(counts, sizeof counts, "%zu", count);
    char *argv[] = {prog, "--port", ports, "--ca", cert_path, "--count", counts, NULL};
    spawn(c, argv);
    nclients_started++;
}

/* Wait for every client started from index `from` to say DONE, all connections made. */
static void wait_clients(size_t from, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (size_t i = from; i < nclients_started; i++) {
        char line[256];
        uint64_t t = now_ms();
        if (!read_line(&clients[i], line, sizeof line, t < end ? (unsigned)(end - t) : 1))
            die("client %zu did not finish its connections in time", i);
        if (strncmp(line, "DONE ", 5) != 0 || field(line, " failed=") != 0 ||
            field(line, " pending=") != 0)
            die("client %zu: %s", i, line);
    }
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    long n = 15000, nclients = 4, warmup = 200, settle_ms = 2000;
    int pos = 0;
    struct rlimit rl;
    char line[256];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
            warmup = atol(argv[++i]);
        else if (strcmp(argv[i], "--settle-ms") == 0 && i + 1 < argc)
            settle_ms = atol(argv[++i]);
        else if (argv[i][0] != '-' && pos == 0 && ++pos)
            n = atol(argv[i]);
        else if (argv[i][0] != '-' && pos == 1 && ++pos)
            nclients = atol(argv[i]);
        else {
            fprintf(stderr, "usage: tls_idle_conns [N [CLIENTS]] [--warmup W] [--settle-ms MS]\n");
            return 2;
        }
    }
    if (warmup > n / 2)
        warmup = n / 2;
    if (n < 2 || n > MAX_CONNS || nclients < 1 || nclients > MAX_CLIENTS || warmup < 1 ||
        settle_ms < 0 || settle_ms > 60000) {
        fprintf(stderr, "tls_idle_conns: N must be 2..%d, CLIENTS 1..%d\n", MAX_CONNS, MAX_CLIENTS);
        return 2;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    find_bindir(argv[0]);
    make_certs();

    /* the listener */
    char prog[PATH_MAX + 32];
    snprintf(prog, sizeof prog, "%s/tls_idle_server", bindir);
    char *sargv[] = {prog, "--cert", cert_path, "--key", key_path, NULL};
    spawn(&server, sargv);
    if (!read_line(&server, line, sizeof line, 10000) || strncmp(line, "LISTENING ", 10) != 0)
        die("the listener did not start");
    size_t port = strtoul(line + 10, NULL, 10);
    printf("tls_idle: listener pid %ld on 127.0.0.1:%zu, ECDSA P-256 certificate, TLS 1.3\n",
           (long)server.pid, port);

    /* warm-up: one-time allocations (OpenSSL's tables, libuv's loop) land before the baseline */
    start_client(port, (size_t)warmup);
    wait_clients(0, 60000);
    wait_handshakes(warmup, 30000);
    sleep_ms(1000);
    stat_t base = query("stat\n");
    stat_t base_trim = query("trim\n");
    printf("tls_idle: baseline after %ld warm-up conns: VmRSS %ld kB (%ld kB after malloc_trim)\n",
           warmup, base.rss_kb, base_trim.rss_kb);

    /* the measured connections */
    long rest = n - warmup;
    uint64_t t0 = now_ms();
    for (long i = 0; i < nclients; i++)
        start_client(port, (size_t)(rest / nclients + (i < rest % nclients ? 1 : 0)));
    printf("tls_idle: opening %ld more from %ld client processes over 127.0.0.2-127.0.0.9\n", rest,
           nclients);
    fflush(stdout);
    unsigned budget = (unsigned)(60000 + n * 10);
    wait_clients(1, budget);
    stat_t done = wait_handshakes(n, 30000);
    printf("tls_idle: %ld handshakes in %.1f s, %ld open\n", done.handshakes,
           (double)(now_ms() - t0) / 1000.0, done.open);
    sleep_ms((unsigned)settle_ms);
    stat_t after = query("stat\n");
    stat_t after_trim = query("trim\n");
    if (interrupted)
        die("interrupted");
    if (after.open != n || after.handshakes != n || after.failed != 0)
        die("the listener holds %ld connections (%ld handshakes, %ld failed), not %ld", after.open,
            after.handshakes, after.failed, n);
    printf("tls_idle: after %ld conns and %ld ms idle: VmRSS %ld kB (%ld kB after malloc_trim)\n",
           n, settle_ms, after.rss_kb, after_trim.rss_kb);

    long per = (after.rss_kb - base.rss_kb) * 1024 / rest;
    long per_trim = (after_trim.rss_kb - base_trim.rss_kb) * 1024 / rest;
    long heap_per = (after.heap_used - base.heap_used) / rest;
    printf("tls_idle: malloc heap in use grew %ld bytes/conn (mallinfo2: %ld kB in use, %ld kB "
           "free, %ld kB mmapped)\n",
           heap_per, after.heap_used / 1024, after.heap_free / 1024, after.heap_mmap / 1024);
    printf("tls_idle: with malloc_trim(0) before each reading: %ld bytes/conn (for information)\n",
           per_trim);
    printf("tls_idle: target %d bytes/conn: %s\n", TARGET_BYTES,
           per <= TARGET_BYTES ? "met" : "not met");
    if (cleanup() < 0)
        return 1; /* a child's own failure (a sanitizer's report, a crash) voids the figure */
    printf("tls_idle: %ld conns, %ld bytes/conn\n", n, per);
    return 0;
}
