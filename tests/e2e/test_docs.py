"""docs/ against the code: every docs/plugins/<name>.md options table says
what `outpostd --describe <name>` says (names, types, defaults), and the
README points at nothing outside the repository.

An options table is any markdown table under the page's "## Options"
heading (down to the next "## ") whose header starts
`| option | type | default |`. Its first column holds one option or
several, comma-separated, that share a type and a default; the type is the
one --describe prints ("secret" for a secret, "one of a, b, c" for a
choice), followed by ", required" for a required option; the default is
--describe's, without quotes, or empty when it has none. Every option of
the plugin's own table must have a row (the common options of its kind
may); a page whose Options section links to http.md#options shares the
http engine's options documented there.

The man pages (packaging/man) name every global option and every
command-line option the daemon has, and the config examples of the
operator's guide (docs/operators-guide.md) pass `outpostd -t` together."""
import os
import re
import subprocess
import unittest

from harness import OUTPOSTD, Workdir

SOURCE = os.environ.get("OUTPOST_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))
DOCS = os.path.join(SOURCE, "docs", "plugins")

OPTION = re.compile(
    r"^  (?P<name>\w+) +(?P<type>secret \(also [^)]*\)|one of \S+"
    r"|list of \w+|\w+)(?:, default (?P<default>.*?))?(?P<required>, "
    r"required)?(?:, \S+\.\.\S+)?$")


def describe(name):
    """{option: (type, default, required)} and the set of the plugin's
    own options (those before the common ones)."""
    p = subprocess.run([OUTPOSTD, "--describe", name], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    opts, own, common = {}, set(), False
    for line in p.stdout.splitlines():
        if line.startswith("common "):
            common = True
        m = OPTION.match(line)
        if not m:
            continue
        t = m.group("type")
        if t.startswith("secret"):
            t = "secret"
        d = m.group("default") or ""
        if len(d) >= 2 and d[0] == '"' and d[-1] == '"':
            d = d[1:-1]
        opts[m.group("name")] = (t, d, bool(m.group("required")))
        if not common:
            own.add(m.group("name"))
    return opts, own


def links_engine(path):
    """Does the page's Options section point at http.md#options?"""
    with open(path) as f:
        text = f.read()
    m = re.search(r"^## Options\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return bool(m) and "(http.md#options)" in m.group(1)


def doc_rows(path):
    """[(line number, [names], type, default, required)] of the options
    tables."""
    rows, in_options, in_table = [], False, False
    with open(path) as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if line.startswith("## "):
            in_options = line.strip() == "## Options"
            in_table = False
            continue
        if not in_options or not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:3] == ["option", "type", "default"]:
            in_table = True
            continue
        if not in_table or set(cells[0]) <= set("-: "):
            continue
        names = [x.strip().strip("`") for x in cells[0].split(",")]
        t = cells[1]
        required = t.endswith(", required")
        if required:
            t = t[:-len(", required")]
        if t.startswith("one of "):
            t = "one of " + "|".join(x.strip() for x in t[7:].split(","))
        d = cells[2].strip("`")
        rows.append((n, names, t, d, required))
    return rows


MAN = os.path.join(SOURCE, "packaging", "man")
GUIDE = os.path.join(SOURCE, "docs", "operators-guide.md")


def plugins():
    p = subprocess.run([OUTPOSTD, "--list-plugins"], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return [line.split()[0] for line in p.stdout.splitlines()]


def roff_text(path):
    """The words of a roff page: requests and font escapes dropped, \\-
    read as -."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-")
    return re.sub(r"^\.[A-Z]+ ?", "", text, flags=re.M)


class DocsTest(unittest.TestCase):
    def test_every_plugin_has_a_page(self):
        names = plugins()
        for name in names:
            self.assertTrue(os.path.exists(os.path.join(DOCS, name + ".md")),
                            "docs/plugins/%s.md is missing" % name)
        for page in os.listdir(DOCS):
            self.assertIn(page[:-3], names,
                          "docs/plugins/%s documents no plugin" % page)

    def test_man_page_names_every_global_option(self):
        p = subprocess.run([OUTPOSTD, "--describe", "global"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        # The outpost.conf options: the block after "options:", up to the
        # first section that is not (api { ... }).
        block = p.stdout.split("options:\n", 1)[1].split("\n\n", 1)[0]
        names = [m.group(1) for m in re.finditer(r"^  (\w+) ", block, re.M)]
        self.assertIn("state_dir", names)
        # And the api section's, the block that starts "api { ... }".
        api = p.stdout.split("api { ... }", 1)[1].split(":\n", 1)[1]
        api = api.split("\n\n", 1)[0]
        api_names = [m.group(1)
                     for m in re.finditer(r"^  (\w+) ", api, re.M)]
        self.assertIn("require_token", api_names)
        text = roff_text(os.path.join(MAN, "outpost.conf.5"))
        for name in names + api_names:
            self.assertTrue(re.search(r"(?m)^%s\b" % name, text),
                            "outpost.conf(5) has no entry for %s" % name)

    def test_man_page_names_every_command_line_option(self):
        p = subprocess.run([OUTPOSTD, "--help"], capture_output=True,
                           text=True, timeout=30)
        usage = p.stdout + p.stderr
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[A-Za-z])\b",
                               usage))
        self.assertIn("--describe", flags)
        text = roff_text(os.path.join(MAN, "outpostd.8"))
        for flag in sorted(flags - {"--help"}):
            self.assertTrue(re.search(r"(?m)^%s\b" % re.escape(flag), text),
                            "outpostd(8) has no entry for %s" % flag)

    def test_operators_guide_config_passes_t(self):
        """The guide's drop-in examples (``` blocks holding a section)
        are one config: with the secrets they name set, it is valid."""
        blocks, lines, lang = [], None, ""
        with open(GUIDE) as f:
            for line in f:
                if not line.startswith("```"):
                    if lines is not None:
                        lines.append(line)
                elif lines is None:             # an opening fence
                    lang, lines = line[3:].strip(), []
                else:                           # its closing fence
                    if not lang:
                        blocks.append("".join(lines))
                    lines = None
        confs = [b for b in blocks if re.search(r'^\w+ "[^"]+" \{', b, re.M)]
        self.assertTrue(confs, "no config example in the guide")
        w = Workdir()
        try:
            env = dict(os.environ)
            for i, text in enumerate(confs):
                w.write_dropin("%02d-guide.conf" % i, text)
                for var in re.findall(r'_env\s*=\s*"(\w+)"', text):
                    env[var] = ("https://hooks.example.com/x"
                                if var.endswith("_URL") else "example")
            p = subprocess.run([OUTPOSTD, "-t", "-C", w.write_main()],
                               env=env, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            w.cleanup()

    def test_options_tables_match_describe(self):
        problems = []
        for page in sorted(os.listdir(DOCS)):
            name = page[:-3]
            path = os.path.join(DOCS, page)
            opts, own = describe(name)
            seen = set()
            for n, names, t, d, req in doc_rows(path):
                where = "docs/plugins/%s:%d" % (page, n)
                for o in names:
                    seen.add(o)
                    if o not in opts:
                        problems.append("%s: %s is not an option of %s"
                                        % (where, o, name))
                        continue
                    want = opts[o]
                    if (t, d, req) != want:
                        problems.append(
                            "%s: %s: the page says %r, --describe %r"
                            % (where, o, (t, d, req), want))
            if links_engine(path) and name != "http":
                own -= set(o for r in doc_rows(os.path.join(DOCS, "http.md"))
                           for o in r[1])
            for o in sorted(own - seen):
                problems.append("docs/plugins/%s: no row for option %s"
                                % (page, o))
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_readme_stays_in_the_repository(self):
        with open(os.path.join(SOURCE, "README.md")) as f:
            text = f.read()
        self.assertNotIn("DESIGN.md", text)
        self.assertNotIn("shared folder", text)
        for link in re.findall(r"\]\(([^)#]+)", text):
            if "://" in link:
                continue
            self.assertTrue(os.path.exists(os.path.join(SOURCE, link)), link)
        for path in re.findall(r"\b(docs/[\w/.-]+\.md)", text):
            self.assertTrue(os.path.exists(os.path.join(SOURCE, path)), path)

    def test_example_drop_ins_pass_t_together(self):
        """conf.d/*.conf is the set operators copy to /etc/outpost/conf.d:
        with the secrets its *_env options name set, the whole set passes
        -t (names one file gives another, e.g. the alert policies'
        notifiers, must exist)."""
        confd = os.path.join(SOURCE, "conf.d")
        w = Workdir()
        try:
            env = dict(os.environ)
            for name in sorted(os.listdir(confd)):
                if not name.endswith(".conf") or name == "outpost.conf":
                    continue
                with open(os.path.join(confd, name)) as f:
                    text = f.read()
                w.write_dropin(name, text)
                for var in re.findall(r'_env\s*=\s*"(\w+)"', text):
                    env[var] = ("postgresql://outpost@127.0.0.1/outpost"
                                if var in ("ORDERS_DB_URL", "OUTPOST_PG_URL")
                                else "https://hooks.example.com/x"
                                if var.endswith("_URL") else "example-value")
            conf = w.write_main()
            p = subprocess.run([OUTPOSTD, "-t", "-C", conf], env=env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("configuration is valid", p.stderr)
        finally:
            w.cleanup()


if __name__ == "__main__":
    unittest.main()
