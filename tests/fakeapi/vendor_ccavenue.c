/*
 * fakeapi: CCAvenue, under /ccavenue.  POST /apis/servlet/DoWebTrans with
 * form fields access_code, command, request_type=JSON, response_type=JSON,
 * version and enc_request: the JSON request encrypted with AES-128-CBC
 * (key = MD5 of the working key, IV = bytes 0..15), in hex.  The answer
 * is a form-style string: status=0&enc_response=<hex> when the request
 * was accepted, status=1&enc_response=<reason>&enc_error_code=<n> when
 * CCAvenue could not take it at all (bad access code, undecryptable
 * request).  The probe asks orderStatusTracker for an order that does not
 * exist.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "vendor.h"


#define FV_CCAVENUE_ACCESS_CODE  "AVOUTPOST00TEST"
#define FV_CCAVENUE_WORKING_KEY  "0123456789ABCDEF0123456789ABCDEF"

#define FV_CC_MAX  4096


static const unsigned char  cc_iv[16] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};


static int
cc_key(unsigned char key[16])
{
    unsigned int  n = 0;

    return EVP_Digest(FV_CCAVENUE_WORKING_KEY,
                      strlen(FV_CCAVENUE_WORKING_KEY), key, &n, EVP_md5(),
                      NULL) == 1 && n == 16 ? 0 : -1;
}


/* AES-128-CBC in either direction; *outlen set on success. */
static int
cc_crypt(int enc, const unsigned char *in, int inlen, unsigned char *out,
    int *outlen)
{
    EVP_CIPHER_CTX  *ctx;
    unsigned char    key[16];
    int              n = 0, m = 0, ok;

    if (cc_key(key) != 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL) {
        return -1;
    }

    ok = EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, cc_iv, enc)
         == 1
         && EVP_CipherUpdate(ctx, out, &n, in, inlen) == 1
         && EVP_CipherFinal_ex(ctx, out + n, &m) == 1;

    EVP_CIPHER_CTX_free(ctx);
    *outlen = n + m;
    return ok ? 0 : -1;
}


static int
cc_unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t    n = strlen(hex), i;
    unsigned  byte;

    if (n % 2 != 0 || n / 2 > cap) {
        return -1;
    }

    for (i = 0; i < n / 2; i++) {
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            return -1;
        }
        out[i] = (unsigned char) byte;
    }

    return (int) (n / 2);
}


static int
cc_refuse(fa_reply_t *out, const char *reason, const char *code)
{
    char  text[256];

    (void) snprintf(text, sizeof(text),
                    "status=1&enc_response=%s&enc_error_code=%s", reason,
                    code);
    return fv_reply_text(out, MHD_HTTP_OK, text);
}


static int
cc_dowebtrans(const fa_request_t *r, fa_reply_t *out)
{
    unsigned char   raw[FV_CC_MAX], plain[FV_CC_MAX + 32];
    char            access[64], command[64], *text, *hex;
    const char     *answer;
    json_t         *req;
    int             n, m, i, rc;

    if (fv_form(r, "access_code", access, sizeof(access)) == NULL
        || strcmp(access, FV_CCAVENUE_ACCESS_CODE) != 0)
    {
        return cc_refuse(out, "Access_code: Invalid Parameter", "51407");
    }

    if (fv_form(r, "command", command, sizeof(command)) == NULL) {
        return cc_refuse(out, "Command: Invalid Parameter", "51401");
    }

    hex = malloc(2 * FV_CC_MAX + 1);
    if (hex == NULL) {
        return -1;
    }

    if (fv_form(r, "enc_request", hex, 2 * FV_CC_MAX + 1) == NULL
        || (n = cc_unhex(hex, raw, sizeof(raw))) <= 0
        || cc_crypt(0, raw, n, plain, &m) != 0)
    {
        free(hex);
        return cc_refuse(out, "Unable to decrypt the request, check the "
                         "working key", "51419");
    }

    plain[m] = '\0';
    req = json_loads((const char *) plain, 0, NULL);
    if (req == NULL || !json_is_object(req)) {
        json_decref(req);
        free(hex);
        return cc_refuse(out, "Request: Invalid JSON", "51420");
    }
    json_decref(req);

    /* the order does not exist: an answer, so the credentials work */
    answer = strcmp(command, "orderStatusTracker") == 0
             ? "{\"status\":1,\"error_desc\":\"No records found\","
               "\"error_code\":\"51313\"}"
             : "{\"status\":1,\"error_desc\":\"Invalid command\","
               "\"error_code\":\"51401\"}";

    if (cc_crypt(1, (const unsigned char *) answer, (int) strlen(answer),
                 plain, &m) != 0)
    {
        free(hex);
        return -1;
    }

    text = hex;
    n = snprintf(text, 64, "status=0&enc_response=");
    for (i = 0; i < m; i++) {
        (void) snprintf(text + n + 2 * i, 3, "%02x", plain[i]);
    }
    (void) snprintf(text + n + 2 * m, 32, "&enc_error_code=");

    rc = fv_reply_text(out, MHD_HTTP_OK, text);
    free(hex);
    return rc;
}


const fa_route_t  fa_ccavenue_routes[] = {
    { "POST", "/ccavenue/apis/servlet/DoWebTrans", 0, cc_dowebtrans },
    FA_ROUTE_END
};
