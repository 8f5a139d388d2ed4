/*
 * fakeapi: Razorpay, under /razorpay.  GET /v1/payments?count=1 with
 * Basic key_id:key_secret; Razorpay has no health endpoint, and listing
 * one payment is its cheapest authenticated read.  Bad credentials are a
 * 401 BAD_REQUEST_ERROR.
 */

#include <string.h>

#include "vendor.h"


#define FV_RAZORPAY_KEY_ID  "rzp_test_outpost"
#define FV_RAZORPAY_SECRET  "outpost_razorpay_secret"


static int
razorpay_error(fa_reply_t *out, unsigned status, const char *desc)
{
    return fa_reply_jansson(out, status,
        json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:{}}}", "error",
                  "code", "BAD_REQUEST_ERROR", "description", desc,
                  "source", "NA", "step", "NA", "reason", "NA",
                  "metadata"));
}


static int
razorpay_payments(const fa_request_t *r, fa_reply_t *out)
{
    char  user[256], pass[256];

    if (fv_basic(r, user, sizeof(user), pass, sizeof(pass)) != 0) {
        return razorpay_error(out, MHD_HTTP_UNAUTHORIZED,
                              "Please provide your api key for "
                              "authentication purposes.");
    }

    if (strcmp(user, FV_RAZORPAY_KEY_ID) != 0) {
        return razorpay_error(out, MHD_HTTP_UNAUTHORIZED,
                              "The api key provided is invalid");
    }

    if (strcmp(pass, FV_RAZORPAY_SECRET) != 0) {
        return razorpay_error(out, MHD_HTTP_UNAUTHORIZED,
                              "The api secret provided is invalid");
    }

    return fa_reply_json(out, MHD_HTTP_OK,
                         "{\"entity\":\"collection\",\"count\":0,"
                         "\"items\":[]}");
}


const fa_route_t  fa_razorpay_routes[] = {
    { "GET", "/razorpay/v1/payments", 0, razorpay_payments },
    FA_ROUTE_END
};
