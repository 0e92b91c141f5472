/*
 * main.c - the edgeproxy command line: the daemon (--config FILE, in the foreground, logs on
 * standard error) and the operator tools (--check-config, --check-sip).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check_config.h"
#include "check_sip.h"
#include "conf.h"
#include "edge.h"
#include "log.h"

#ifndef EDGE_VERSION
#define EDGE_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fputs("usage: edgeproxy --config FILE\n"
          "       edgeproxy --check-config FILE\n"
          "       edgeproxy --check-sip FILE... (- for standard input)\n"
          "       edgeproxy --version\n"
          "\n"
          "--config     run the edge with FILE in the foreground, logging to standard error.\n"
          "             SIGTERM/SIGINT stop it, SIGHUP reloads certificates, SIGUSR1 prints\n"
          "             its counters.\n"
          "--check-sip  frame and parse each file as if it arrived on a SIP stream connection\n"
          "             and print one line per message: FILE: ACTION DETAIL, where ACTION is\n"
          "             forward, forward-response, reply-NNN, drop or close. Exit status 0 when\n"
          "             every message would be relayed, 1 otherwise, 2 when a file is unreadable.\n"
          "--check-config  validate FILE and load every certificate, key and CA it names; exit\n"
          "             0 when the daemon could start with it, 1 with the reason (file:line).\n",
          out);
}

static int run(const char *path)
{
    static conf_t conf;
    static edge_t edge;
    char err[1024];
    if (conf_load(path, &conf, err, sizeof err) < 0) {
        fprintf(stderr, "edgeproxy: %s\n", err);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    if (edge_init(&edge, loop, &conf, err, sizeof err) < 0) {
        edge_err("cannot start: %s", err);
        edge_stop(&edge);
        uv_run(loop, UV_RUN_DEFAULT);
        edge_free(&edge);
        uv_loop_close(loop);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    edge_free(&edge);
    uv_loop_close(loop);
    edge_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--config") == 0) {
        if (argc != 3) {
            fputs("edgeproxy: --config needs exactly one FILE\n", stderr);
            return 2;
        }
        return run(argv[2]);
    }
    if (argc >= 2 && strcmp(argv[1], "--check-sip") == 0) {
        if (argc < 3) {
            fputs("edgeproxy: --check-sip needs at least one FILE (or - for standard input)\n",
                  stderr);
            return 2;
        }
        return edge_check_sip_main(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "--check-config") == 0) {
        if (argc != 3) {
            fputs("edgeproxy: --check-config needs exactly one FILE\n", stderr);
            return 2;
        }
        return edge_check_config_main(argv[2]);
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("edgeproxy %s\n", EDGE_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
