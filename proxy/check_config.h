/*
 * check_config.h - `edgeproxy --check-config FILE`: validate a configuration and load every
 * certificate, key and CA it names, as the daemon would before listening.
 */
#ifndef EDGE_CHECK_CONFIG_H
#define EDGE_CHECK_CONFIG_H

/* Returns the process exit status: 0 valid, 1 not (the reason on standard error, file:line). */
int edge_check_config_main(const char *path);

#endif
