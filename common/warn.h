/* Warnings: things worth telling the user that do not stop the command
 * (an ignored setting, a failed poststart hook). Code below cmd/ reports
 * them here; cmd/ decides where they go (stderr and the --log file). */
#ifndef BERTH_WARN_H
#define BERTH_WARN_H

/* Where warnings go; NULL (the default) drops them. */
void berth_warn_set_sink(void (*sink)(const char *msg));

/* Formats one warning and hands it to the sink. */
void berth_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
