/*
 * main.c - the edgeproxy command line. Today it carries the operator tools; the daemon's run
 * loop joins it when the relay lands.
 */
#include <stdio.h>
#include <string.h>

#include "check_config.h"
#include "check_sip.h"

#ifndef EDGE_VERSION
#define EDGE_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fputs("usage: edgeproxy --check-config FILE\n"
          "       edgeproxy --check-sip FILE... (- for standard input)\n"
          "       edgeproxy --version\n"
          "\n"
          "--check-sip  frame and parse each file as if it arrived on a SIP stream connection\n"
          "             and print one line per message: FILE: ACTION DETAIL, where ACTION is\n"
          "             forward, forward-response, reply-NNN, drop or close. Exit status 0 when\n"
          "             every message would be relayed, 1 otherwise, 2 when a file is unreadable.\n"
          "--check-config  validate FILE and load every certificate, key and CA it names; exit\n"
          "             0 when the daemon could start with it, 1 with the reason (file:line).\n",
          out);
}

int main(int argc, char **argv)
{
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
