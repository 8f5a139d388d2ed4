/*
 * payments.h - hooks of the `payments` providers that live outside
 * payments.c (payments_in.c: the Indian gateways' signed requests).
 */
#ifndef OUTPOST_PAYMENTS_H
#define OUTPOST_PAYMENTS_H

#include "../common/preset.h"

/* The conf: the common preset part, then the gateways' credentials. */
struct payments_conf {
    struct preset_conf common;
    char              *secret;          /* API key, client secret, salt,
                                           working key */
    char              *client_id;       /* paypal */
    char              *key_id;          /* razorpay */
    char              *merchant_key;    /* payu */
    char              *access_code;     /* ccavenue */
};

/* Indexes in the credential table (payments.c). */
enum payments_cred {
    PAY_SECRET = 0,
    PAY_CLIENT_ID,
    PAY_KEY_ID,
    PAY_MERCHANT_KEY,
    PAY_ACCESS_CODE
};

int  payu_prepare(preset_t *p, httpcheck_call_t *c);
void payu_refine(preset_t *p, httpcheck_call_t *c);
int  ccavenue_prepare(preset_t *p, httpcheck_call_t *c);
void ccavenue_refine(preset_t *p, httpcheck_call_t *c);

#endif /* OUTPOST_PAYMENTS_H */
