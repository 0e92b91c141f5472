/*
 * log.h - the daemon's log: one line per event on standard error (the foreground default),
 * with a timestamp and a level, filtered by [log] level. One global threshold: logging is the
 * one piece of process-wide state every module shares.
 */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H

typedef enum { EDGE_LOG_ERROR = 0, EDGE_LOG_WARN, EDGE_LOG_INFO, EDGE_LOG_DEBUG } edge_log_level_t;

extern int edge_log_threshold;

void edge_log_set_level(edge_log_level_t level);
void edge_log_write(edge_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define edge_log(level, ...)                                                                       \
    do {                                                                                           \
        if ((int)(level) <= edge_log_threshold)                                                    \
            edge_log_write(level, __VA_ARGS__);                                                    \
    } while (0)
#define edge_err(...)   edge_log(EDGE_LOG_ERROR, __VA_ARGS__)
#define edge_warn(...)  edge_log(EDGE_LOG_WARN, __VA_ARGS__)
#define edge_info(...)  edge_log(EDGE_LOG_INFO, __VA_ARGS__)
#define edge_debug(...) edge_log(EDGE_LOG_DEBUG, __VA_ARGS__)

#endif
