/*
 * verdict.h - "is it us or them?": what a vendor's own status page says,
 * carried on checks and told in words in every message about them.
 *
 * A check learns the verdict in one of two ways:
 *   - a preset with `status_page` puts it on the check itself as
 *     vendor_status (none | minor | major | critical | unknown),
 *     vendor_description and vendor_incidents;
 *   - a `statuspage` input whose `provider` is the same as the check's:
 *     its measurements (fields indicator, description, incidents) are
 *     remembered on a board per provider, and checks of that provider that
 *     carry no verdict of their own get those three vendor_* fields.
 *
 * Messages then say "Stripe reports a major outage: Elevated API errors"
 * (the provider tag, capitalised, names the vendor).
 *
 * Lifetime: a board owns copies of what it remembers; verdict_board_free
 * releases them. A board is used by one filter instance, under the
 * pipeline lock (loop thread), so it needs no lock of its own.
 */
#ifndef OUTPOST_VERDICT_H
#define OUTPOST_VERDICT_H

#include <stddef.h>
#include <outpost/plugin.h>
#include "strmap.h"

struct verdict_board {
    struct strmap by_provider;          /* provider -> struct verdict */
};

/* If rec is a statuspage measurement for a provider, remember its verdict.
 * 1 when it was one, else 0. */
int  verdict_board_observe(struct verdict_board *b,
                           const outpost_record_t *rec);
/* Gives a check without a verdict of its own the one its provider's status
 * page has on the board. */
void verdict_board_annotate(struct verdict_board *b, outpost_record_t *rec);
void verdict_board_free(struct verdict_board *b);

/* The status page's word on rec's vendor: vendor_status, or a statuspage
 * measurement's indicator; NULL when nothing is known. */
const char *verdict_status(const outpost_record_t *rec);

/* Writes the verdict in words ("Stripe reports a major outage: Elevated
 * API errors", "Stripe's status page shows no incident") into buf; "" when
 * rec carries no verdict. Returns buf. */
char *verdict_text(const outpost_record_t *rec, char *buf, size_t len);

/* Copies rec's verdict fields (vendor_status, vendor_description,
 * vendor_incidents) onto the event ev, so alerts carry it as data. */
void verdict_copy(const outpost_record_t *rec, outpost_record_t *ev);

#endif
