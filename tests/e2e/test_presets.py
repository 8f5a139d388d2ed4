"""The provider presets (payments, ai, messaging) against tests/fakeapi's
vendor routes: good key, bad key, missing secret, rate limits with
Retry-After, vendor failures, headroom headers and each vendor's own way
of saying "no" - through outpostd and the health filter, read back from
the jsonl output."""
import subprocess
import time
import unittest

from harness import (FakeAPITest, OUTPOSTD, read_jsonl, run_once,
                     start_daemon, stop_daemon, wait_for)

SID = "AC00000000000000000000000000000000"
SUSPENDED_SID = "AC00000000000000000000000000000009"

# plugin, provider, good credentials, bad credentials, extra options,
# status code of the bad key's answer, the route a probe hits first.
PRESETS = [
    ("payments", "stripe", {"secret": "sk_test_outpost"},
     {"secret": "sk_test_wrong0000"}, {}, 401, "/stripe/v1/balance"),
    ("payments", "paypal",
     {"client_id": "outpost-paypal-client",
      "secret": "outpost-paypal-secret"},
     {"client_id": "outpost-paypal-client", "secret": "wrong"}, {}, 401,
     "/paypal/v1/oauth2/token"),
    ("payments", "razorpay",
     {"key_id": "rzp_test_outpost", "secret": "outpost_razorpay_secret"},
     {"key_id": "rzp_test_outpost", "secret": "wrong"}, {}, 401,
     "/razorpay/v1/payments"),
    ("payments", "payu", {"merchant_key": "outpostkey",
                          "secret": "outpostsalt"},
     {"merchant_key": "outpostkey", "secret": "wrong"}, {}, 200,
     "/payu/merchant/postservice.php"),
    ("payments", "ccavenue",
     {"access_code": "AVOUTPOST00TEST",
      "secret": "0123456789ABCDEF0123456789ABCDEF"},
     {"access_code": "AVOUTPOST00TEST", "secret": "wrong"}, {}, 200,
     "/ccavenue/apis/servlet/DoWebTrans"),
    ("payments", "adyen", {"secret": "AQEoutpost-adyen-api-key"},
     {"secret": "AQEwrong"}, {}, 401, "/adyen/v3/me"),
    ("payments", "square", {"secret": "EAAAoutpost-square-token"},
     {"secret": "EAAAwrong"}, {}, 401, "/square/v2/locations"),
    ("ai", "openai", {"secret": "sk-outpost-test"},
     {"secret": "sk-wrong-1234567"}, {}, 401, "/openai/v1/models"),
    ("ai", "anthropic", {"secret": "sk-ant-outpost-test"},
     {"secret": "sk-ant-wrong"}, {}, 401, "/anthropic/v1/models"),
    ("ai", "gemini", {"secret": "AIzaOutpostGeminiTestKey"},
     {"secret": "AIzaWrong"}, {}, 400, "/gemini/v1beta/models"),
    ("ai", "mistral", {"secret": "outpost-mistral-key"},
     {"secret": "wrong"}, {}, 401, "/mistral/v1/models"),
    ("ai", "cohere", {"secret": "outpost-cohere-key"},
     {"secret": "wrong"}, {}, 401, "/cohere/v1/check-api-key"),
    ("messaging", "twilio",
     {"account_sid": SID, "auth_token": "outpost_twilio_token"},
     {"account_sid": SID, "auth_token": "wrong"}, {}, 401,
     "/twilio/2010-04-01/Accounts/%s.json" % SID),
    ("messaging", "slack", {"secret": "xoxb-outpost-test"},
     {"secret": "xoxb-wrong"}, {}, 200, "/slack/api/auth.test"),
    ("messaging", "resend", {"secret": "re_outpost_test"},
     {"secret": "re_wrong"}, {}, 403, "/resend/domains"),
    ("messaging", "sendgrid", {"secret": "SG.outpost.test"},
     {"secret": "SG.wrong"}, {}, 401, "/sendgrid/v3/scopes"),
    ("messaging", "whatsapp", {"secret": "EAAoutpost-whatsapp-token"},
     {"secret": "EAAwrong"}, {"phone_number_id": "100000000000001"}, 401,
     "/whatsapp/v21.0/100000000000001"),
    ("messaging", "discord", {"secret": "outpost.discord.bot-token"},
     {"secret": "wrong"}, {}, 401, "/discord/api/v10/users/@me"),
]


def value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return '"%s"' % v


def section(plugin, name, provider, base, opts):
    body = " ".join("%s = %s" % (k, value(v)) for k, v in opts.items())
    return '%s "%s" { provider = "%s" base_url = "%s" %s }\n' % (
        plugin, name, provider, base, body)


def env_name(provider, opt):
    return "T_%s_%s" % (provider.upper(), opt.upper())


class PresetTest(FakeAPITest):
    def base(self, provider):
        return "%s/%s" % (self.api.url, provider)

    def once(self, text, env=None, timeout="5s"):
        return {r["tags"]["integration"]: r
                for r in self.run_measurements(text, env, timeout)}

    def measurements(self):
        return [r["fields"] for r in read_jsonl(self.out)
                if r["type"] == "measurement"]

    def one(self, plugin, provider, opts, env=None, timeout="5s"):
        recs = self.once(section(plugin, provider, provider,
                                 self.base(provider), opts), env, timeout)
        return recs[provider]["fields"]

    # --- every preset --------------------------------------------------------

    def test_every_preset_with_a_good_key_succeeds(self):
        text, env = "", {}
        for plugin, provider, good, _, extra, _, _ in PRESETS:
            opts = dict(extra)
            for k, v in good.items():      # secrets through <name>_env
                opts[k + "_env"] = env_name(provider, k)
                env[env_name(provider, k)] = v
            text += section(plugin, provider, provider, self.base(provider),
                            opts)
        recs = self.once(text, env)
        self.assertEqual(sorted(recs), sorted(p[1] for p in PRESETS))
        for plugin, provider, *_ in PRESETS:
            r = recs[provider]
            f = r["fields"]
            with self.subTest(provider=provider):
                self.assertEqual(r["name"], plugin)
                self.assertEqual(r["tags"]["provider"], provider)
                self.assertTrue(f["success"], f)
                self.assertEqual(f["status_code"], 200, f)
                self.assertNotIn("reason", f)
                self.assertNotIn("status_hint", f)
                self.assertEqual(f["rate_limit_hits"], 0)
                self.assertEqual(f["status"], "healthy", f)
                self.assertGreater(f["response_ms"], 0)

    def test_every_preset_with_a_bad_key_is_down_for_credentials(self):
        text = ""
        for plugin, provider, _, bad, extra, _, _ in PRESETS:
            text += section(plugin, provider, provider, self.base(provider),
                            dict(extra, **bad))
        recs = self.once(text)
        for plugin, provider, _, bad, _, code, _ in PRESETS:
            f = recs[provider]["fields"]
            with self.subTest(provider=provider):
                self.assertFalse(f["success"], f)
                self.assertEqual(f["status_code"], code, f)
                self.assertEqual(f["reason"], "credentials", f)
                self.assertEqual(f["status_hint"], "down", f)
                self.assertTrue(f["error"].startswith("credentials: "), f)
                self.assertEqual(f["status"], "down", f)
                for secret in bad.values():
                    if len(secret) > 8:     # vendors echo keys masked
                        self.assertNotIn(secret, f["error"])

    def test_missing_secret_is_unknown_and_sends_nothing(self):
        text, env = "", {"T_EMPTY": ""}
        for plugin, provider, good, _, extra, _, _ in PRESETS:
            opts = dict(extra)
            for i, k in enumerate(good):
                if i == 0:
                    opts[k + "_env"] = "T_EMPTY"    # set, but empty
                else:
                    opts[k] = good[k]
            text += section(plugin, provider, provider, self.base(provider),
                            opts)
        # and one with no secret configured at all
        text += section("payments", "bare", "stripe", self.base("stripe"), {})
        recs = self.once(text, env)
        self.assertEqual(len(recs), len(PRESETS) + 1)
        for name, r in recs.items():
            f = r["fields"]
            with self.subTest(integration=name):
                self.assertFalse(f["success"])
                self.assertEqual(f["status_hint"], "unknown")
                self.assertEqual(f["reason"], "credentials missing")
                self.assertNotIn("status_code", f)
                self.assertTrue(f["error"].startswith("credentials: "))
                self.assertIn("is empty", f["error"])
                self.assertEqual(f["status"], "unknown")
        self.assertEqual(self.stats()["total"], 0, self.stats())

    # --- answers every vendor gives -------------------------------------------

    def test_5xx_is_down_vendor(self):
        self.api.fault("/stripe/v1/balance", status=503)
        f = self.one("payments", "stripe", {"secret": "sk_test_outpost"})
        self.assertFalse(f["success"])
        self.assertEqual(f["status_code"], 503)
        self.assertEqual(f["status_hint"], "down")
        self.assertEqual(f["reason"], "vendor")
        self.assertEqual(f["error"], "vendor: HTTP 503")
        self.assertEqual(f["status"], "down")

    def test_timeout_is_down_vendor(self):
        self.api.fault("/openai/v1/models", delay_ms=3000)
        f = self.one("ai", "openai", {"secret": "sk-outpost-test"},
                     timeout="700ms")
        self.assertFalse(f["success"])
        self.assertEqual(f["reason"], "vendor")
        self.assertEqual(f["status_hint"], "down")
        self.assertTrue(f["error"].startswith("timeout"), f["error"])

    def test_bad_json_is_down_vendor(self):
        self.api.fault("/sendgrid/v3/scopes", body="badjson")
        f = self.one("messaging", "sendgrid", {"secret": "SG.outpost.test"})
        self.assertFalse(f["success"])
        self.assertEqual(f["status_code"], 200)
        self.assertEqual(f["reason"], "vendor")
        self.assertEqual(f["error"], "vendor: HTTP 200 with a body that is "
                         "not JSON")

    def test_refused_connection_is_down_network(self):
        recs = self.once(section("payments", "adyen", "adyen",
                                 "http://127.0.0.1:1", {"secret": "k"}))
        f = recs["adyen"]["fields"]
        self.assertFalse(f["success"])
        self.assertEqual(f["reason"], "network")
        self.assertEqual(f["status_hint"], "down")
        self.assertTrue(f["error"].startswith("connect"), f["error"])

    def test_429_with_retry_after(self):
        self.api.fault("/anthropic/v1/models", status=429, retry_after=7,
                       count=1)
        f = self.one("ai", "anthropic", {"secret": "sk-ant-outpost-test"})
        self.assertTrue(f["success"])        # answered; we are throttled
        self.assertEqual(f["status_code"], 429)
        self.assertEqual(f["status_hint"], "degraded")
        self.assertEqual(f["reason"], "rate_limited")
        self.assertEqual(f["retry_after_s"], 7)
        self.assertEqual(f["rate_limit_hits"], 1)
        self.assertEqual(f["status"], "degraded")

    def test_429_counts_hits_and_defers_the_next_probe(self):
        path = "/stripe/v1/balance"

        def hits():
            return self.stats()["paths"].get(path, 0)

        self.api.fault(path, status=429, retry_after=3, count=2)
        conf = self.write(section("payments", "stripe", "stripe",
                                  self.base("stripe"),
                                  {"secret": "sk_test_outpost",
                                   "max_retry_after": "10s"}),
                          interval="300ms")
        d = start_daemon(conf)
        try:
            self.assertTrue(wait_for(lambda: hits() >= 1, timeout=10))
            t0 = time.time()
            # deferred: no probe for 3 s although the interval is 300 ms
            time.sleep(2.0)
            self.assertEqual(hits(), 1, self.stats())
            self.assertTrue(wait_for(lambda: hits() >= 2, timeout=10))
            self.assertGreater(time.time() - t0, 2.5)
            self.assertTrue(wait_for(
                lambda: len(self.measurements()) >= 3, timeout=10))
        finally:
            rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        f = self.measurements()
        self.assertEqual([x["status_code"] for x in f[:3]], [429, 429, 200])
        self.assertEqual([x["rate_limit_hits"] for x in f[:3]], [1, 2, 2])
        self.assertEqual([x.get("reason") for x in f[:3]],
                         ["rate_limited", "rate_limited", None])
        self.assertEqual([x["status"] for x in f[:3]],
                         ["degraded", "degraded", "healthy"])
        self.assertEqual(f[0]["retry_after_s"], 3)
        self.assertNotIn("retry_after_s", f[2])

    def test_retry_after_of_a_year_is_capped(self):
        # A 429 asking for a year must not stop checks for a year: the
        # deferral is capped at max_retry_after (default 5 intervals).
        path = "/openai/v1/models"

        def hits():
            return self.stats()["paths"].get(path, 0)

        self.api.fault(path, status=429, retry_after=31536000, count=1)
        conf = self.write(section("ai", "openai", "openai",
                                  self.base("openai"),
                                  {"secret": "sk-outpost-test"}),
                          interval="300ms")
        d = start_daemon(conf)
        try:
            self.assertTrue(wait_for(lambda: hits() >= 1, timeout=10))
            t0 = time.time()
            self.assertTrue(wait_for(lambda: hits() >= 2, timeout=10),
                            self.stats())
            waited = time.time() - t0
            self.assertTrue(wait_for(
                lambda: len(self.measurements()) >= 2, timeout=10))
        finally:
            rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        self.assertGreater(waited, 1.0)     # deferred, by 5 x 300 ms
        f = self.measurements()
        self.assertEqual(f[0]["retry_after_s"], 31536000)
        self.assertEqual(f[0]["retry_after_capped_s"], 1.5)
        self.assertTrue(f[1]["success"])

    def test_retry_after_forms(self):
        # delta-seconds and an HTTP-date are both read; nonsense is not
        self.api.fault("/stripe/v1/balance", status=429, retry_date=100)
        self.api.fault("/adyen/v3/me", status=429, retry_after=20)
        self.api.fault("/square/v2/locations", status=429,
                       retry_after=1000000)
        recs = self.once(
            section("payments", "stripe", "stripe", self.base("stripe"),
                    {"secret": "sk_test_outpost"}) +
            section("payments", "adyen", "adyen", self.base("adyen"),
                    {"secret": "AQEoutpost-adyen-api-key"}) +
            section("payments", "square", "square", self.base("square"),
                    {"secret": "EAAAoutpost-square-token",
                     "max_retry_after": "2m"}))
        f = recs["stripe"]["fields"]
        self.assertGreater(f["retry_after_s"], 95)
        self.assertLessEqual(f["retry_after_s"], 100)
        self.assertNotIn("retry_after_capped_s", f)   # 5 x 30 s = 150 s
        f = recs["adyen"]["fields"]
        self.assertEqual(f["retry_after_s"], 20)
        f = recs["square"]["fields"]
        self.assertEqual(f["retry_after_s"], 1000000)
        self.assertEqual(f["retry_after_capped_s"], 120)

    def test_wrong_shape_is_down_vendor_for_every_preset(self):
        # A 200 with JSON that is not the vendor's answer (a proxy's page,
        # a misrouted base_url) is not a success.
        text = ""
        for plugin, provider, good, _, extra, _, route in PRESETS:
            self.api.fault(route, body="shape")
            text += section(plugin, provider, provider, self.base(provider),
                            dict(extra, **good))
        recs = self.once(text)
        for plugin, provider, *_ in PRESETS:
            f = recs[provider]["fields"]
            with self.subTest(provider=provider):
                self.assertFalse(f["success"], f)
                self.assertEqual(f["status_code"], 200, f)
                self.assertEqual(f["reason"], "vendor", f)
                self.assertEqual(f["status_hint"], "down", f)
                self.assertEqual(f["status"], "down", f)
                self.assertIn("not a %s answer" % provider, f["error"])
        # the message names the field
        self.assertEqual(recs["stripe"]["fields"]["error"],
                         'vendor: HTTP 200: not a stripe answer: "object" '
                         'is missing')
        self.assertEqual(recs["twilio"]["fields"]["error"],
                         'vendor: HTTP 200: not a twilio answer: "sid" is '
                         'missing')
        self.assertEqual(recs["payu"]["fields"]["error"],
                         'vendor: HTTP 200: not a payu answer: "status" is '
                         'an array, not a string or a number')

    def test_body_over_max_body_is_too_large_not_bad_json(self):
        f = self.one("payments", "stripe", {"secret": "sk_test_outpost",
                                            "max_body": 64})
        self.assertFalse(f["success"])
        self.assertEqual(f["reason"], "vendor")
        self.assertEqual(f["error"], "vendor: HTTP 200: response body over "
                         "max_body (64 bytes)")

    def test_describe_lists_each_plugins_own_credentials(self):
        own = {"payments": ["secret", "client_id", "key_id", "merchant_key",
                            "access_code"],
               "ai": ["secret", "key_in_query"],
               "messaging": ["secret", "account_sid", "auth_token",
                             "phone_number_id"]}
        every = {o for opts in own.values() for o in opts}
        for plugin, opts in own.items():
            p = subprocess.run([OUTPOSTD, "--describe", plugin],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            listed = {line.split()[0] for line in p.stdout.splitlines()
                      if line.startswith("  ") and not
                      line.startswith("   ")}
            with self.subTest(plugin=plugin):
                for o in opts + ["base_url", "status_page", "api_version",
                                 "max_retry_after", "max_body"]:
                    self.assertIn(o, listed)
                for o in every - set(opts):
                    self.assertNotIn(o, listed)

    def test_headroom_headers_are_fields(self):
        text = ""
        for plugin, provider, good, _, extra, _, _ in PRESETS:
            if provider in ("openai", "anthropic", "resend", "sendgrid",
                            "discord"):
                text += section(plugin, provider, provider,
                                self.base(provider), dict(extra, **good))
        recs = self.once(text)
        f = {k: r["fields"] for k, r in recs.items()}
        self.assertEqual(f["openai"]["ratelimit_remaining_requests"], 9999)
        self.assertEqual(f["openai"]["ratelimit_remaining_tokens"], 1999950)
        self.assertEqual(f["openai"]["ratelimit_limit_requests"], 10000)
        self.assertEqual(f["anthropic"]["ratelimit_requests_remaining"], 49)
        self.assertEqual(f["anthropic"]["ratelimit_tokens_remaining"], 48000)
        self.assertEqual(f["resend"]["ratelimit_remaining"], 1)
        self.assertEqual(f["resend"]["ratelimit_limit"], 2)
        self.assertEqual(f["sendgrid"]["ratelimit_remaining"], 49)
        self.assertEqual(f["discord"]["ratelimit_remaining"], 4)

    # --- each vendor's own ways ----------------------------------------------

    def test_slack_200_invalid_auth_and_revoked_token(self):
        recs = self.once(
            section("messaging", "a", "slack", self.base("slack"),
                    {"secret": "xoxb-wrong"}) +
            section("messaging", "b", "slack", self.base("slack"),
                    {"secret": "xoxb-outpost-revoked"}))
        self.assertEqual(recs["a"]["fields"]["error"],
                         "credentials: HTTP 200: Slack says invalid_auth")
        self.assertEqual(recs["b"]["fields"]["error"],
                         "credentials: HTTP 200: Slack says token_revoked")
        for r in recs.values():
            self.assertEqual(r["fields"]["status_code"], 200)
            self.assertEqual(r["fields"]["status"], "down")

    def test_vendor_error_messages_reach_error(self):
        recs = self.once(
            section("payments", "stripe", "stripe", self.base("stripe"),
                    {"secret": "sk_test_wrong0000"}) +
            section("ai", "openai", "openai", self.base("openai"),
                    {"secret": "sk-wrong-1234567"}) +
            section("payments", "payu", "payu", self.base("payu"),
                    {"merchant_key": "outpostkey", "secret": "nope"}))
        self.assertEqual(recs["stripe"]["fields"]["error"],
                         "credentials: HTTP 401: Invalid API Key provided: "
                         "sk_test_****0000")
        self.assertTrue(recs["openai"]["fields"]["error"].startswith(
            "credentials: HTTP 401: Incorrect API key provided: sk-****"))
        self.assertEqual(recs["payu"]["fields"]["error"],
                         "credentials: PayU: Invalid Hash.")

    def test_gemini_key_in_query(self):
        f = self.one("ai", "gemini", {"secret": "AIzaOutpostGeminiTestKey",
                                      "key_in_query": True})
        self.assertTrue(f["success"], f)

    def test_openai_insufficient_quota_is_an_account_problem(self):
        f = self.one("ai", "openai", {"secret": "sk-outpost-noquota"})
        self.assertFalse(f["success"])
        self.assertEqual(f["status_code"], 429)
        self.assertEqual(f["reason"], "account")
        self.assertEqual(f["status_hint"], "down")
        self.assertEqual(f["rate_limit_hits"], 0)

    def test_twilio_suspended_account(self):
        f = self.one("messaging", "twilio",
                     {"account_sid": SUSPENDED_SID,
                      "auth_token": "outpost_twilio_token"})
        self.assertFalse(f["success"])
        self.assertEqual(f["status_code"], 200)
        self.assertEqual(f["reason"], "account")
        self.assertEqual(f["account_status"], "suspended")

    def test_twilio_auth_token_falls_back_to_secret(self):
        f = self.one("messaging", "twilio",
                     {"account_sid": SID, "secret": "outpost_twilio_token"})
        self.assertTrue(f["success"], f)
        self.assertEqual(f["account_status"], "active")

    def test_resend_send_only_key_is_a_valid_key(self):
        f = self.one("messaging", "resend", {"secret": "re_outpost_sendonly"})
        self.assertTrue(f["success"], f)
        self.assertEqual(f["status_code"], 401)
        self.assertTrue(f["key_restricted"])
        self.assertNotIn("reason", f)

    def test_resend_gets_a_user_agent_even_when_unset(self):
        f = self.one("messaging", "resend", {"secret": "re_outpost_test",
                                             "user_agent": ""})
        self.assertTrue(f["success"], f)

    def test_whatsapp_unknown_phone_number_is_a_request_problem(self):
        f = self.one("messaging", "whatsapp",
                     {"secret": "EAAoutpost-whatsapp-token",
                      "phone_number_id": "123"})
        self.assertFalse(f["success"])
        self.assertEqual(f["status_code"], 400)
        self.assertEqual(f["reason"], "request")
        self.assertIn("does not exist", f["error"])

    def test_whatsapp_reports_quality_rating(self):
        f = self.one("messaging", "whatsapp",
                     {"secret": "EAAoutpost-whatsapp-token",
                      "phone_number_id": "100000000000001"})
        self.assertEqual(f["quality_rating"], "GREEN")

    def test_discord_retry_after_from_the_body(self):
        # this fakeapi key answers Discord's 429 body without Retry-After
        f = self.one("messaging", "discord",
                     {"secret": "outpost.discord.limited"})
        self.assertTrue(f["success"], f)
        self.assertEqual(f["status_code"], 429)
        self.assertEqual(f["reason"], "rate_limited")
        self.assertEqual(f["rate_limit_hits"], 1)
        self.assertEqual(f["retry_after_s"], 1.5)

    def test_anthropic_needs_its_version_header(self):
        f = self.one("ai", "anthropic", {"secret": "sk-ant-outpost-test",
                                         "api_version": ""})
        # an empty api_version means the provider's default
        self.assertTrue(f["success"], f)

    def test_paypal_keeps_its_token_between_checks(self):
        conf = self.write(section("payments", "paypal", "paypal",
                                  self.base("paypal"),
                                  {"client_id": "outpost-paypal-client",
                                   "secret": "outpost-paypal-secret"}),
                          interval="300ms")
        d = start_daemon(conf)
        try:
            self.assertTrue(wait_for(lambda: len(self.measurements()) >= 3,
                                     timeout=10))
        finally:
            rc, err = stop_daemon(d)
        self.assertEqual(rc, 0, err)
        paths = self.stats()["paths"]
        self.assertEqual(paths.get("/paypal/v1/oauth2/token"), 1, paths)
        self.assertGreaterEqual(
            paths.get("/paypal/v1/notifications/webhooks"), 3, paths)
        for f in self.measurements():
            self.assertTrue(f["success"], f)

    def test_bad_urls_are_refused_at_load(self):
        conf = self.write(
            'payments "stripe" { base_url = "ftp://127.0.0.1/" secret = "s" }\n'
            'ai "openai" { base_url = "%s" secret = "s"\n'
            '  status_page = "file:///etc/passwd" }\n'
            'messaging "whatsapp" { secret = "s" }\n' % self.base("openai"))
        rc, err = run_once(conf)
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r'\.conf:1: payments "stripe": base_url: the '
                         r'scheme must be http:// or https://')
        # At the line of the option (the section starts on line 2).
        self.assertRegex(err, r'\.conf:3: ai "openai": status_page: the '
                         r'scheme must be http:// or https://')
        self.assertRegex(err, r'\.conf:4: messaging "whatsapp": '
                         r'phone_number_id: required for provider whatsapp')
        self.assertEqual(read_jsonl(self.out), [])

    def test_unknown_provider_is_refused_at_start(self):
        # Refused when the config is read, with the file and line: a typo
        # in a provider is an `outpostd -t` error, not a runtime one.
        conf = self.write(section("payments", "x", "bogus", self.base("x"),
                                  {"secret": "s"}))
        rc, err = run_once(conf)
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r'\.conf:\d+: option \'provider\' in payments '
                         r'"x": "bogus" is not one of stripe, paypal, '
                         r'razorpay, payu, ccavenue, adyen, square')
        self.assertEqual(read_jsonl(self.out), [])
        # Without a provider the instance's name is the provider.
        conf = self.write('payments "stripe-eu" { base_url = "%s" '
                          'secret = "s" }\n' % self.base("stripe-eu"))
        rc, err = run_once(conf)
        self.assertNotEqual(rc, 0)
        self.assertIn('payments "stripe-eu": no provider set, and the '
                      "instance's name is not one", err)


if __name__ == "__main__":
    unittest.main()
