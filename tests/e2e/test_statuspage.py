"""The statuspage input against tests/fakeapi's Statuspage (summary.json
set through /_admin/statuspage), and the status_page option of the
provider presets, through outpostd and the health filter."""
import unittest
import urllib.parse

from harness import FakeAPITest, read_jsonl, run_once


class StatuspageTest(FakeAPITest):
    def setUp(self):
        super().setUp()
        self.summary = self.api.url + "/api/v2/summary.json"

    def page(self, **kw):
        """POST /_admin/statuspage with kw as the query."""
        self.api.admin("POST", "statuspage?" + urllib.parse.urlencode(kw))

    def hits(self, path):
        return self.stats()["paths"].get(path, 0)

    def once(self, text):
        """One run: the pages' fields and each page's components'."""
        pages, comps = {}, {}
        for r in self.run_measurements(text):
            name = r["tags"]["integration"]
            if "component" in r["tags"]:
                comps.setdefault(name, {})[r["tags"]["component"]] = \
                    r["fields"]
            else:
                pages[name] = r["fields"]
        return pages, comps

    def check(self, extra=""):
        pages, comps = self.once('statuspage "vendor" { url = "%s" %s }\n'
                                 % (self.summary, extra))
        return pages["vendor"], comps.get("vendor", {})

    # --- the mapping ---------------------------------------------------------

    def test_all_operational_is_healthy(self):
        p, c = self.check()
        self.assertTrue(p["success"])
        self.assertEqual(p["indicator"], "none")
        self.assertEqual(p["description"], "All Systems Operational")
        self.assertEqual(p["incidents"], "")
        self.assertEqual(p["incident_count"], 0)
        self.assertEqual(p["status_hint"], "healthy")
        self.assertEqual(p["components_watched"], 3)
        self.assertEqual(p["status"], "healthy")
        self.assertEqual(sorted(c), ["API", "Dashboard", "Webhooks"])
        for f in c.values():
            self.assertEqual(f, {"component_status": "operational",
                                 "component_health": "healthy"})

    def test_indicators_map_to_health(self):
        cases = [("minor", "degraded_performance", "degraded"),
                 ("major", "partial_outage", "down"),
                 ("critical", "major_outage", "down")]
        for indicator, comp, hint in cases:
            with self.subTest(indicator=indicator):
                self.api.admin("DELETE", "statuspage")
                self.page(indicator=indicator, component="API", status=comp)
                p, c = self.check()
                self.assertEqual(p["indicator"], indicator)
                self.assertEqual(p["status_hint"], hint)
                self.assertEqual(p["status"], hint)
                self.assertEqual(c["API"]["component_status"], comp)
                self.assertEqual(c["API"]["component_health"], hint)

    def test_indicator_alone_counts_when_every_component_is_watched(self):
        self.page(indicator="major", description="Partial System Outage")
        p, _ = self.check()
        self.assertEqual(p["status_hint"], "down")
        self.assertEqual(p["description"], "Partial System Outage")

    def test_worst_component_beats_a_blended_indicator(self):
        # the page says minor, but a component is in a major outage
        self.page(indicator="minor", component="API", status="major_outage")
        p, c = self.check()
        self.assertEqual(p["indicator"], "minor")
        self.assertEqual(p["status_hint"], "down")
        self.assertEqual(p["components_down"], 1)
        self.assertEqual(p["status"], "down")

    def test_under_maintenance_is_degraded(self):
        self.page(component="Webhooks", status="under_maintenance")
        p, c = self.check()
        self.assertEqual(p["status_hint"], "degraded")
        self.assertEqual(p["components_degraded"], 1)
        self.assertEqual(c["Webhooks"]["component_health"], "degraded")

    def test_components_option_watches_only_those(self):
        self.page(indicator="major", components="API:major_outage,"
                  "Dashboard:operational")
        p, c = self.check('components = {"Dashboard", "Billing"}')
        self.assertEqual(sorted(c), ["Dashboard"])
        self.assertEqual(p["components_watched"], 1)
        self.assertEqual(p["status_hint"], "healthy")
        self.assertEqual(p["missing_components"], "Billing")
        self.assertEqual(p["indicator"], "major")   # still reported
        p, c = self.check('components = {"API"}')
        self.assertEqual(p["status_hint"], "down")
        self.assertEqual(sorted(c), ["API"])
        self.assertNotIn("missing_components", p)

    def test_incidents_are_joined(self):
        self.page(incident="Elevated API errors", impact="major")
        self.page(incident="Delayed webhooks", impact="minor")
        p, _ = self.check()
        self.assertEqual(p["incidents"],
                         "Elevated API errors; Delayed webhooks")
        self.assertEqual(p["incident_count"], 2)

    def test_named_pages_and_status_json(self):
        self.page(page="acme", indicator="critical", component="API",
                  status="major_outage")
        pages, _ = self.once(
            'statuspage "acme" { url = "%s/pages/acme/api/v2/summary.json" }'
            '\nstatuspage "dflt" { url = "%s" }\n'
            'statuspage "st" { url = "%s/pages/acme/api/v2/status.json" }\n'
            % (self.api.url, self.summary, self.api.url))
        self.assertEqual(pages["acme"]["status_hint"], "down")
        self.assertEqual(pages["dflt"]["status_hint"], "healthy")
        # status.json has no components: the indicator decides
        self.assertEqual(pages["st"]["indicator"], "critical")
        self.assertEqual(pages["st"]["status_hint"], "down")
        self.assertEqual(pages["st"]["components_watched"], 0)

    # --- failures ------------------------------------------------------------

    def test_bad_json_is_down(self):
        self.api.fault("/api/v2/summary.json", body="badjson")
        p, c = self.check()
        self.assertFalse(p["success"])
        self.assertEqual(p["reason"], "vendor")
        self.assertEqual(p["status"], "down")
        self.assertEqual(c, {})

    def test_not_a_statuspage_is_down(self):
        pages, _ = self.once('statuspage "x" { url = "%s/health" }\n'
                             % self.api.url)
        self.assertFalse(pages["x"]["success"])
        self.assertIn("not a Statuspage answer", pages["x"]["error"])

    def test_wrong_shape_is_down(self):
        # JSON, but not a Statuspage's: status must be an object with an
        # indicator, components and incidents lists
        self.api.fault("/api/v2/summary.json", body="shape")
        p, c = self.check()
        self.assertFalse(p["success"])
        self.assertEqual(p["reason"], "vendor")
        self.assertEqual(p["status"], "down")
        self.assertEqual(p["error"], "vendor: not a Statuspage answer (no "
                         "status object)")
        self.assertEqual(c, {})
        # a page cut at max_body is too large, not "not JSON"
        self.api.clear()
        pages, _ = self.once('statuspage "big" { url = "%s" max_body = 40 }\n'
                             % self.summary)
        self.assertFalse(pages["big"]["success"])
        self.assertEqual(pages["big"]["error"], "vendor: response body over "
                         "max_body (40 bytes)")

    def test_5xx_is_down(self):
        self.api.fault("/api/v2/summary.json", status=502)
        p, _ = self.check()
        self.assertFalse(p["success"])
        self.assertEqual(p["status_code"], 502)
        self.assertEqual(p["reason"], "vendor")

    # --- status_page on a preset ---------------------------------------------

    def test_preset_carries_the_vendor_verdict(self):
        self.page(indicator="major", component="API", status="major_outage",
                  incident="Elevated API errors")
        pages, _ = self.once(
            'payments "stripe" { provider = "stripe" secret = '
            '"sk_test_outpost" base_url = "%s/stripe" status_page = "%s" }\n'
            % (self.api.url, self.summary))
        f = pages["stripe"]
        self.assertTrue(f["success"])            # our own check is fine
        self.assertEqual(f["vendor_status"], "major")
        self.assertEqual(f["vendor_health"], "down")
        self.assertEqual(f["vendor_description"], "Partial System Outage")
        self.assertEqual(f["vendor_incidents"], "Elevated API errors")
        self.assertEqual(f["status"], "healthy")  # vendor's word is a field

    def test_instances_share_one_fetch_per_url(self):
        self.page(page="other", indicator="minor")
        other = self.api.url + "/pages/other/api/v2/summary.json"
        text = ""
        for i in range(4):
            text += ('ai "oa%d" { provider = "openai" secret = '
                     '"sk-outpost-test" base_url = "%s/openai" '
                     'status_page = "%s" }\n' % (i, self.api.url,
                                                 self.summary))
        text += ('payments "stripe" { provider = "stripe" secret = '
                 '"sk_test_outpost" base_url = "%s/stripe" status_page = '
                 '"%s" }\n' % (self.api.url, other))
        pages, _ = self.once(text)
        self.assertEqual(self.hits("/api/v2/summary.json"), 1)
        self.assertEqual(self.hits("/pages/other/api/v2/summary.json"), 1)
        for i in range(4):
            self.assertEqual(pages["oa%d" % i]["vendor_status"], "none")
        self.assertEqual(pages["stripe"]["vendor_status"], "minor")
        self.assertEqual(pages["stripe"]["vendor_health"], "degraded")

    def test_unreachable_status_page_does_not_fail_the_check(self):
        self.api.fault("/api/v2/summary.json", status=500)
        pages, _ = self.once(
            'payments "stripe" { provider = "stripe" secret = '
            '"sk_test_outpost" base_url = "%s/stripe" status_page = "%s" }\n'
            % (self.api.url, self.summary))
        f = pages["stripe"]
        self.assertTrue(f["success"])
        self.assertEqual(f["vendor_status"], "unknown")

    def test_hung_status_page_leaves_time_for_the_check(self):
        self.api.fault("/api/v2/summary.json", hang=1)
        conf = self.w.write_main(timeout="2s")
        self.w.write_dropin("10-in.conf",
            'payments "stripe" { provider = "stripe" secret = '
            '"sk_test_outpost" base_url = "%s/stripe" status_page = "%s" }\n'
            % (self.api.url, self.summary))
        self.w.write_dropin("90-out.conf",
                            'jsonl "out" { path = "%s" }\n' % self.out)
        rc, err = run_once(conf)
        self.api.clear()
        self.assertEqual(rc, 0, err)
        [r] = [r for r in read_jsonl(self.out) if r["type"] == "measurement"]
        self.assertTrue(r["fields"]["success"], r)
        self.assertEqual(r["fields"]["vendor_status"], "unknown")


if __name__ == "__main__":
    unittest.main()
