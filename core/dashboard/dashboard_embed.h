/*
 * The dashboard page, compiled into the binary.  core/dashboard/dashboard.html
 * is the source; core/dashboard/embed.cmake turns it into a C array at build
 * time (dashboard_html.c in the build tree), together with its ETag and the
 * Content-Security-Policy that allows exactly its inline script and style.
 * All four are constant for the life of the process.
 */
#ifndef OUTPOST_DASHBOARD_EMBED_H
#define OUTPOST_DASHBOARD_EMBED_H

#include <stddef.h>

extern const unsigned char  outpost_dashboard_html[];
extern const size_t         outpost_dashboard_html_len;
extern const char           outpost_dashboard_etag[];  /* quoted: "\"...\"" */
extern const char           outpost_dashboard_csp[];

#endif
