/*
 * fakeapi: PayU India, under /payu.  POST /merchant/postservice.php?form=2
 * (the "General APIs" endpoint, JSON answers) with form fields key,
 * command, var1 and hash = sha512(key|command|var1|salt), lower-case hex.
 * verify_payment for an unknown transaction id is the cheapest call that
 * proves the key and salt.  PayU answers 200 even when it refuses the
 * credentials: {"status":0,"msg":"Invalid Hash."}.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "vendor.h"


#define FV_PAYU_KEY   "outpostkey"
#define FV_PAYU_SALT  "outpostsalt"


/* sha512(key|command|var1|salt) as 128 lower-case hex digits. */
static int
payu_hash(const char *key, const char *command, const char *var1,
    char hex[129])
{
    unsigned char  md[EVP_MAX_MD_SIZE];
    unsigned int   n = 0, i;
    char           text[1024];
    int            len;

    len = snprintf(text, sizeof(text), "%s|%s|%s|%s", key, command, var1,
                   FV_PAYU_SALT);
    if (len < 0 || (size_t) len >= sizeof(text)
        || EVP_Digest(text, (size_t) len, md, &n, EVP_sha512(), NULL) != 1
        || n != 64)
    {
        return -1;
    }

    for (i = 0; i < n; i++) {
        (void) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return 0;
}


static int
payu_postservice(const fa_request_t *r, fa_reply_t *out)
{
    char  key[128], command[64], var1[256], hash[256], want[129];

    if (fv_form(r, "key", key, sizeof(key)) == NULL
        || fv_form(r, "command", command, sizeof(command)) == NULL
        || fv_form(r, "hash", hash, sizeof(hash)) == NULL)
    {
        return fa_reply_json(out, MHD_HTTP_OK,
                             "{\"status\":0,\"msg\":\"Parameter missing\"}");
    }

    if (fv_form(r, "var1", var1, sizeof(var1)) == NULL) {
        var1[0] = '\0';
    }

    if (strcmp(key, FV_PAYU_KEY) != 0) {
        return fa_reply_json(out, MHD_HTTP_OK,
                             "{\"status\":0,\"msg\":\"Invalid key\"}");
    }

    if (payu_hash(key, command, var1, want) != 0) {
        return -1;
    }

    if (strcmp(hash, want) != 0) {
        return fa_reply_json(out, MHD_HTTP_OK,
                             "{\"status\":0,\"msg\":\"Invalid Hash.\"}");
    }

    if (strcmp(command, "verify_payment") != 0) {
        return fa_reply_json(out, MHD_HTTP_OK,
                             "{\"status\":0,\"msg\":\"Invalid command\"}");
    }

    return fa_reply_jansson(out, MHD_HTTP_OK,
        json_pack("{s:i, s:s, s:{s:{s:s, s:s}}}",
                  "status", 1,
                  "msg", "1 out of 1 Transactions Fetched Successfully",
                  "transaction_details", var1,
                  "mihpayid", "Not Found", "status", "Not Found"));
}


const fa_route_t  fa_payu_routes[] = {
    { "POST", "/payu/merchant/postservice.php", 0, payu_postservice },
    FA_ROUTE_END
};
