/*
 * fakeapi: Slack, under /slack.  POST (or GET) /api/auth.test with a
 * Bearer token, or token= in a form body.  Slack answers 200 whatever the
 * outcome: {"ok":false,"error":"not_authed"} without a token,
 * {"ok":false,"error":"invalid_auth"} with a bad one.
 */

#include <string.h>

#include "vendor.h"


#define FV_SLACK_TOKEN    "xoxb-outpost-test"
#define FV_SLACK_REVOKED  "xoxb-outpost-revoked"


static int
slack_auth_test(const fa_request_t *r, fa_reply_t *out)
{
    const char  *token;
    char         form[256];
    int          rc;

    token = fv_auth(r, "Bearer");
    if (token == NULL) {
        token = fv_form(r, "token", form, sizeof(form));
    }

    if (token == NULL || *token == '\0') {
        rc = fa_reply_json(out, MHD_HTTP_OK,
                           "{\"ok\":false,\"error\":\"not_authed\"}");
    } else if (strcmp(token, FV_SLACK_REVOKED) == 0) {
        rc = fa_reply_json(out, MHD_HTTP_OK,
                           "{\"ok\":false,\"error\":\"token_revoked\"}");
    } else if (strcmp(token, FV_SLACK_TOKEN) != 0) {
        rc = fa_reply_json(out, MHD_HTTP_OK,
                           "{\"ok\":false,\"error\":\"invalid_auth\"}");
    } else {
        rc = fa_reply_json(out, MHD_HTTP_OK,
                           "{\"ok\":true,\"url\":\"https://outpost.slack.com/"
                           "\",\"team\":\"Outpost\",\"user\":\"outpost-bot\","
                           "\"team_id\":\"T0UTP0ST\",\"user_id\":"
                           "\"U0UTP0ST\",\"bot_id\":\"B0UTP0ST\","
                           "\"is_enterprise_install\":false}");
    }

    if (rc != 0) {
        return -1;
    }

    return fv_headerf(out, "x-slack-req-id", "0utp0st%06lu", fv_next_id());
}


const fa_route_t  fa_slack_routes[] = {
    { "POST", "/slack/api/auth.test", 0, slack_auth_test },
    { "GET",  "/slack/api/auth.test", 0, slack_auth_test },
    FA_ROUTE_END
};
