/*
 * fakeapi: Discord, under /discord.  GET /api/v10/users/@me with
 * `Authorization: Bot <token>` returns the bot's own user.  A missing or
 * bad token (or a bot token sent as Bearer) is a 401 {"message":
 * "401: Unauthorized","code":0}.  Answers carry Discord's per-route
 * x-ratelimit-* headers.  The "limited" test token gets Discord's 429
 * body ({"retry_after":1.5,...}) without a Retry-After header.
 */

#include "vendor.h"


#define FV_DISCORD_TOKEN    "outpost.discord.bot-token"
#define FV_DISCORD_LIMITED  "outpost.discord.limited"


static int
discord_me(const fa_request_t *r, fa_reply_t *out)
{
    int  rc;

    if (fv_auth_is(r, "Bot", FV_DISCORD_LIMITED)) {
        /* Discord sends Retry-After too; left out so a client must read
         * the body's retry_after (seconds, a float) */
        rc = fa_reply_json(out, MHD_HTTP_TOO_MANY_REQUESTS,
                           "{\"message\":\"You are being rate limited.\","
                           "\"retry_after\":1.5,\"global\":false}");
    } else if (!fv_auth_is(r, "Bot", FV_DISCORD_TOKEN)) {
        rc = fa_reply_json(out, MHD_HTTP_UNAUTHORIZED,
                           "{\"message\":\"401: Unauthorized\",\"code\":0}");
    } else {
        rc = fa_reply_json(out, MHD_HTTP_OK,
                           "{\"id\":\"100000000000000001\","
                           "\"username\":\"outpost\",\"discriminator\":\"0\","
                           "\"global_name\":null,\"avatar\":null,"
                           "\"bot\":true,\"verified\":true,\"flags\":0,"
                           "\"mfa_enabled\":false}");
    }

    if (rc != 0) {
        return -1;
    }

    return fv_header(out, "x-ratelimit-limit", "5")
           || fv_header(out, "x-ratelimit-remaining", "4")
           || fv_header(out, "x-ratelimit-reset-after", "1.000")
           || fv_header(out, "x-ratelimit-bucket", "0utp0st-users-me")
           ? -1 : 0;
}


const fa_route_t  fa_discord_routes[] = {
    { "GET", "/discord/api/v10/users/@me", 0, discord_me },
    FA_ROUTE_END
};
