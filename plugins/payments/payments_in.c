/*
 * payments_in.c - the Indian gateways whose requests are signed or
 * encrypted with the merchant's secret, so the probe builds them per
 * check and reads answers that say "refused" with a 200.
 *
 * PayU: POST /merchant/postservice.php?form=2, form key, command, var1,
 * hash = sha512(key|command|var1|salt) in lower-case hex; command
 * verify_payment for a transaction id that does not exist (the cheapest
 * call that proves key and salt). A refusal is 200 {"status":0,"msg":...}.
 *
 * CCAvenue: POST /apis/servlet/DoWebTrans, form enc_request (the JSON
 * request, AES-128-CBC with key MD5(working key) and IV 0x00..0x0f, hex),
 * access_code, command=orderStatusTracker, request_type=JSON,
 * response_type=JSON, version=1.2, asking for an order that does not
 * exist. The answer is "status=0&enc_response=<hex>" when CCAvenue took
 * the request (it decrypts with our working key: the credentials work),
 * "status=1&enc_response=<reason>&enc_error_code=<n>" when it could not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "payments.h"

#define PROBE_ID  "outpost-probe"

/* --- PayU ------------------------------------------------------------------ */

static int
sha512_hex(const char *text, size_t len, char hex[129])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(text, len, md, &n, EVP_sha512(), NULL) != 1 || n != 64)
        return -1;
    for (unsigned int i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int
payu_prepare(preset_t *p, httpcheck_call_t *c)
{
    const char *key = preset_cred(p, PAY_MERCHANT_KEY);
    char *text = NULL, *body = NULL, *ekey, hash[129];
    int n, rc = HTTPCHECK_SKIP;

    n = asprintf(&text, "%s|verify_payment|" PROBE_ID "|%s", key,
                 preset_cred(p, PAY_SECRET));
    if (n < 0)
        goto out;
    if (sha512_hex(text, (size_t) n, hash) != 0) {
        httpcheck_fail(c, "internal", "sha512 failed");
        goto out;
    }
    if ((ekey = curl_easy_escape(httpcheck_easy(c), key, 0)) == NULL)
        goto out;
    n = asprintf(&body, "key=%s&command=verify_payment&var1=" PROBE_ID
                 "&hash=%s", ekey, hash);
    curl_free(ekey);
    if (n >= 0 && httpcheck_set_body(c, body, (size_t) n) == 0)
        rc = HTTPCHECK_GO;
out:
    if (rc != HTTPCHECK_GO && !httpcheck_failed(c))
        httpcheck_fail(c, "internal", "out of memory");
    if (text) {
        explicit_bzero(text, strlen(text));
        free(text);
    }
    free(body);
    return rc;
}

/* status is 1 (an int, or "1" in older answers) when PayU served us. */
static int
payu_ok(json_t *root)
{
    json_t *st = json_object_get(root, "status");

    if (json_is_integer(st))
        return json_integer_value(st) == 1;
    return json_is_string(st) && strcmp(json_string_value(st), "1") == 0;
}

void
payu_refine(preset_t *p, httpcheck_call_t *c)
{
    long st = httpcheck_status(c);
    json_t *root;
    const char *msg;

    (void) p;
    if (httpcheck_failed(c) || st < 200 || st >= 300
        || (root = httpcheck_json(c)) == NULL || payu_ok(root))
        return;
    msg = json_string_value(json_object_get(root, "msg"));
    if (msg == NULL)
        msg = "status 0";
    if (strcasestr(msg, "hash") || strcasestr(msg, "key")
        || strcasestr(msg, "merchant"))
        preset_verdict(c, "down", "credentials", "PayU: %.200s", msg);
    else
        preset_verdict(c, "down", "request", "PayU: %.200s", msg);
}

/* --- CCAvenue ----------------------------------------------------------------- */

static const unsigned char cc_iv[16] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

/* AES-128-CBC with key MD5(working key). out needs inlen + 16 bytes. */
static int
cc_crypt(const char *working_key, int enc, const unsigned char *in,
         int inlen, unsigned char *out, int *outlen)
{
    unsigned char key[EVP_MAX_MD_SIZE];
    unsigned int klen = 0;
    EVP_CIPHER_CTX *ctx;
    int n = 0, m = 0, ok;

    if (EVP_Digest(working_key, strlen(working_key), key, &klen, EVP_md5(),
                   NULL) != 1 || klen != 16
        || (ctx = EVP_CIPHER_CTX_new()) == NULL)
        return -1;
    ok = EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, cc_iv, enc)
         == 1
         && EVP_CipherUpdate(ctx, out, &n, in, inlen) == 1
         && EVP_CipherFinal_ex(ctx, out + n, &m) == 1;
    EVP_CIPHER_CTX_free(ctx);
    explicit_bzero(key, sizeof(key));
    *outlen = n + m;
    return ok ? 0 : -1;
}

int
ccavenue_prepare(preset_t *p, httpcheck_call_t *c)
{
    static const char req[] = "{\"reference_no\":\"\",\"order_no\":\""
                              PROBE_ID "\"}";
    unsigned char enc[sizeof(req) + 32];
    char hex[2 * sizeof(enc) + 1], *code, *body = NULL;
    int len = 0, n;

    if (cc_crypt(preset_cred(p, PAY_SECRET), 1, (const unsigned char *) req,
                 (int) sizeof(req) - 1, enc, &len) != 0) {
        httpcheck_fail(c, "internal", "cannot encrypt the request");
        return HTTPCHECK_SKIP;
    }
    for (int i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", enc[i]);
    code = curl_easy_escape(httpcheck_easy(c),
                            preset_cred(p, PAY_ACCESS_CODE), 0);
    n = code ? asprintf(&body, "enc_request=%s&access_code=%s"
                        "&command=orderStatusTracker&request_type=JSON"
                        "&response_type=JSON&version=1.2", hex, code) : -1;
    curl_free(code);
    if (n < 0 || httpcheck_set_body(c, body, (size_t) n) != 0) {
        free(body);
        httpcheck_fail(c, "internal", "out of memory");
        return HTTPCHECK_SKIP;
    }
    free(body);
    return HTTPCHECK_GO;
}

/* The value of key in "a=1&b=2" (not decoded), copied into buf. */
static const char *
form_value(const char *body, const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    const char *s = body;

    while (s && *s) {
        if (strncmp(s, key, klen) == 0 && s[klen] == '=') {
            size_t n = strcspn(s + klen + 1, "&");
            snprintf(buf, len, "%.*s", (int) (n < len ? n : len - 1),
                     s + klen + 1);
            return buf;
        }
        s = strchr(s, '&');
        if (s)
            s++;
    }
    return NULL;
}

static int
unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex);
    unsigned v;

    if (n == 0 || n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char) v;
    }
    return (int) (n / 2);
}

void
ccavenue_refine(preset_t *p, httpcheck_call_t *c)
{
    long st = httpcheck_status(c);
    const char *body = httpcheck_body(c, NULL);
    char status[8], resp[4096], code[32];
    unsigned char raw[2048], plain[2048 + 32];
    int n, m;

    if (httpcheck_failed(c) || st < 200 || st >= 300)
        return;
    if (form_value(body, "status", status, sizeof(status)) == NULL
        || form_value(body, "enc_response", resp, sizeof(resp)) == NULL) {
        preset_verdict(c, "down", "vendor", "not a ccavenue answer: no status "
                       "and enc_response");
        return;
    }
    if (strcmp(status, "0") == 0) {
        if ((n = unhex(resp, raw, sizeof(raw))) < 0
            || cc_crypt(preset_cred(p, PAY_SECRET), 0, raw, n, plain, &m)
               != 0)
            preset_verdict(c, "down", "credentials", "CCAvenue's answer "
                           "does not decrypt with the working key");
        return;
    }
    if (form_value(body, "enc_error_code", code, sizeof(code)) == NULL)
        code[0] = '\0';
    /* status=1: CCAvenue could not take the request at all */
    if (strcasestr(resp, "access") || strcasestr(resp, "decrypt")
        || strcasestr(resp, "key") || strcasestr(resp, "ip address"))
        preset_verdict(c, "down", "credentials", "CCAvenue refused the "
                       "request: %.200s%s%s", resp, code[0] ? " #" : "",
                       code);
    else
        preset_verdict(c, "down", "request", "CCAvenue refused the "
                       "request: %.200s%s%s", resp, code[0] ? " #" : "",
                       code);
}
