/*
 * payments.h - hooks of the `payments` providers that live outside
 * payments.c (payments_in.c: the Indian gateways' signed requests).
 */
#ifndef OUTPOST_PAYMENTS_H
#define OUTPOST_PAYMENTS_H

#include "../common/preset.h"

int  payu_prepare(preset_t *p, httpcheck_call_t *c);
void payu_refine(preset_t *p, httpcheck_call_t *c);
int  ccavenue_prepare(preset_t *p, httpcheck_call_t *c);
void ccavenue_refine(preset_t *p, httpcheck_call_t *c);

#endif /* OUTPOST_PAYMENTS_H */
