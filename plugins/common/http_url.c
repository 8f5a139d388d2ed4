/*
 * http_url.c - see http_url.h.
 */
#include <stdio.h>
#include <strings.h>
#include <curl/curl.h>
#include "http_url.h"

int
http_url_check(const char *what, const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    CURLUcode rc;
    int ok = 0;

    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((rc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK)
        snprintf(err, errlen, "%s: not a URL (%s)", what,
                 curl_url_strerror(rc));
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
             || (strcasecmp(scheme, "http") != 0
                 && strcasecmp(scheme, "https") != 0))
        snprintf(err, errlen, "%s: the scheme must be http:// or https://",
                 what);
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
             || host[0] == '\0')
        snprintf(err, errlen, "%s: no host", what);
    else
        ok = 1;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}
