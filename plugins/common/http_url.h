/*
 * http_url.h - is this an http:// or https:// URL with a host? The one
 * check the http engine, the presets and the notifiers give every URL an
 * operator configures, so `outpostd -t` says the same thing for all of
 * them. libcurl's URL parser decides, as it will when the URL is used.
 */
#ifndef OUTPOST_HTTP_URL_H
#define OUTPOST_HTTP_URL_H

#include <stddef.h>

/* 0 when url is an http:// or https:// URL with a host; else -1 and err
 * "<what>: ..." (without the url: it may hold a password). */
int http_url_check(const char *what, const char *url, char *err,
                   size_t errlen);

#endif
