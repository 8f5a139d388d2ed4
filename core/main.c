/*
 * main.c - outpostd: command line, signals, daemon life.
 *
 *   outpostd [-C FILE] [-f] [-t] [--once] [--describe NAME]
 *            [--list-plugins] [--version]
 *   outpostd [-C FILE] --dead-letters OUTPUT | --requeue OUTPUT
 *   outpostd [-C FILE] --test-notify OUTPUT            (testnotify.c)
 *   outpostd --test [-C FILE] [--filter GLOB]      (dryrun.c)
 *   outpostd --sample-config NAME                  (sample.c)
 *
 * --list-plugins, --describe and --sample-config read plugins from the
 * plugin_dir of the file -C names, when it is given.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "config.h"
#include "deadletter.h"
#include "dryrun.h"
#include "heap.h"
#include "log.h"
#include "options.h"
#include "registry.h"
#include "testnotify.h"

#define DEFAULT_CONFIG "/etc/outpost/outpost.conf"

extern void intern_release_all(void);

struct cli {
    const char *config;
    int         config_set;   /* -C given */
    const char *describe;
    const char *dead_letters;   /* OUTPUT: print its dead letters */
    const char *requeue;        /* OUTPUT: queue them again */
    const char *test_notify;    /* OUTPUT: send it a test message */
    int         foreground;
    int         test;
    int         once;
    int         list;
    /* the dry run and the sample section */
    int         dry_run;
    const char *filter;
    const char *sample;
};

static void
usage(FILE *out)
{
    fprintf(out,
        "usage: outpostd [-C FILE] [-f] [-t] [--once] [--describe NAME]\n"
        "                [--list-plugins] [--version]\n"
        "       outpostd [-C FILE] --dead-letters OUTPUT | --requeue OUTPUT\n"
        "       outpostd [-C FILE] --test-notify OUTPUT\n"
        "       outpostd --test [-C FILE] [--filter GLOB]\n"
        "       outpostd [-C FILE] --sample-config NAME\n"
        "  -C FILE          config file (default " DEFAULT_CONFIG ")\n"
        "  -f               stay in the foreground\n"
        "  -t               validate config and plugins, print problems\n"
        "  --once           run every input once, drain outputs, exit\n"
        "  --describe NAME  print a plugin's options ('global': "
        "outpost.conf's)\n"
        "  --list-plugins   list the plugins found in plugin_dir\n"
        "  --dead-letters OUTPUT\n"
        "                   print the records OUTPUT's backend rejected, as\n"
        "                   JSON lines (OUTPUT: instance or plugin:instance)\n"
        "  --requeue OUTPUT queue them again; they are delivered when the\n"
        "                   agent next starts that output\n"
        "  --test-notify OUTPUT\n"
        "                   send a test message through the notifier\n"
        "                   OUTPUT; exit 0 when its service accepted it\n"
        "  --version        print the version\n"
        "  --test           run the inputs once through the filters, print\n"
        "                   one line per check; no output, state untouched\n"
        "  --filter GLOB    with --test: only inputs whose name matches\n"
        "  --sample-config NAME  print a commented section to paste\n");
}

static int
parse_cli(int argc, char **argv, struct cli *c)
{
    static const struct option longopts[] = {
        { "once",         no_argument,       NULL, 'o' },
        { "describe",     required_argument, NULL, 'd' },
        { "list-plugins", no_argument,       NULL, 'l' },
        { "dead-letters", required_argument, NULL, 'D' },
        { "requeue",      required_argument, NULL, 'R' },
        { "test-notify",  required_argument, NULL, 'N' },
        { "version",      no_argument,       NULL, 'V' },
        { "help",         no_argument,       NULL, 'h' },
        /* the dry run and the sample section */
        { "test",          no_argument,       NULL, 'T' },
        { "filter",        required_argument, NULL, 'F' },
        { "sample-config", required_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 }
    };
    int ch;

    c->config = DEFAULT_CONFIG;
    while ((ch = getopt_long(argc, argv, "C:fth", longopts, NULL)) != -1) {
        switch (ch) {
        case 'C': c->config = optarg; c->config_set = 1; break;
        case 'f': c->foreground = 1; break;
        case 't': c->test = 1; break;
        case 'o': c->once = 1; c->foreground = 1; break;
        case 'd': c->describe = optarg; break;
        case 'l': c->list = 1; break;
        case 'D': c->dead_letters = optarg; break;
        case 'R': c->requeue = optarg; break;
        case 'N': c->test_notify = optarg; break;
        case 'V': printf("outpostd %s (plugin ABI %d.%d)\n", OUTPOST_VERSION,
                         OUTPOST_ABI_VERSION, OUTPOST_ABI_MINOR);
                  exit(0);
        case 'h': usage(stdout); exit(0);
        case 'T': c->dry_run = 1; break;
        case 'F': c->filter = optarg; break;
        case 'S': c->sample = optarg; break;
        default:  usage(stderr); return -1;
        }
    }
    if (c->filter && !c->dry_run) {
        fprintf(stderr, "outpostd: --filter goes with --test\n");
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "outpostd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Where plugins are, when the config does not say: $OUTPOST_PLUGIN_DIR;
 * else, for a daemon run from its build tree, the freshly built plugins
 * next to it; else, for an installed one, <prefix>/lib/outpost/plugins
 * found from its own place (<prefix>/<sbindir>), whatever prefix it was
 * installed under; else the configured prefix's. */
static const char *
default_plugin_dir(void)
{
    static char dir[PATH_MAX], canon[PATH_MAX];
    const char *env = getenv("OUTPOST_PLUGIN_DIR");
    struct stat st;
    ssize_t n;
    char *slash;

    if (env && *env)
        return env;
    n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (n <= 0 || (size_t) n >= sizeof(dir) - 1)
        return OUTPOST_DEFAULT_PLUGIN_DIR;
    dir[n] = '\0';
    slash = strrchr(dir, '/');
    if (slash == NULL)
        return OUTPOST_DEFAULT_PLUGIN_DIR;
    slash[1] = '\0';
    if (strlen(dir) + sizeof("plugins") <= sizeof(dir)) {
        strcpy(slash + 1, "plugins");
        if (strcmp(dir, OUTPOST_BUILD_PLUGIN_DIR) == 0
            && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return dir;
    }
    slash[1] = '\0';
    if (strlen(dir) + sizeof(OUTPOST_PLUGIN_RELDIR) <= sizeof(dir)) {
        strcpy(slash + 1, OUTPOST_PLUGIN_RELDIR);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return realpath(dir, canon) ? canon : dir;
    }
    return OUTPOST_DEFAULT_PLUGIN_DIR;
}

static int
is_global(const char *name)
{
    return strcmp(name, "global") == 0 || strcmp(name, "outpost.conf") == 0;
}

static int
list_or_describe(const struct cli *c)
{
    struct registry *reg;
    struct diag d = { 0 };
    const char *name = c->describe ? c->describe : c->sample;
    char *dir;
    int rc = 0;

    if (c->describe && is_global(c->describe)) {
        config_describe_globals(stdout);
        return 0;
    }
    dir = c->config_set ? config_plugin_dir(c->config, default_plugin_dir(),
                                            &d)
                        : strdup(default_plugin_dir());
    if (dir == NULL) {
        diag_print(&d, stderr);
        diag_free(&d);
        return 1;
    }
    reg = registry_new();
    registry_load_dir(reg, dir, &d);
    diag_print(&d, stderr);
    if (c->list) {
        for (size_t i = 0; i < registry_count(reg); i++) {
            const outpost_plugin_t *p = registry_at(reg, i);
            printf("%-18s %-7s %s\n", p->name,
                   p->kind == OUTPOST_INPUT ? "input"
                   : p->kind == OUTPOST_FILTER ? "filter" : "output",
                   p->description ? p->description : "");
        }
    } else {
        const outpost_plugin_t *p = registry_find(reg, name);
        if (p == NULL) {
            fprintf(stderr, "outpostd: no plugin named '%s' in %s\n",
                    name, dir);
            rc = 1;
        } else if (c->describe) {
            config_describe(p, stdout);
        } else {
            config_sample(p, stdout);
        }
    }
    diag_free(&d);
    registry_free(reg);
    free(dir);
    return rc;
}

/* The output section called name ("instance" or "plugin:instance"). */
static const struct section *
find_output(const struct config *cf, const char *name, int *many)
{
    const struct section *found = NULL;
    const char *colon = strchr(name, ':');

    *many = 0;
    for (size_t i = 0; i < cf->nsections; i++) {
        const struct section *s = &cf->sections[i];
        size_t plen = colon ? (size_t) (colon - name) : 0;

        if (s->plugin->kind != OUTPOST_OUTPUT)
            continue;
        if (colon ? strlen(s->plugin->name) != plen
                    || strncmp(s->plugin->name, name, plen) != 0
                    || strcmp(s->instance, colon + 1) != 0
                  : strcmp(s->instance, name) != 0)
            continue;
        if (found)
            *many = 1;
        found = s;
    }
    return found;
}

/* --dead-letters and --requeue: read the config for state_dir, then the
 * output's dead-letter file (deadletter.c). --test-notify: the section
 * goes to testnotify.c. */
static int
dead_letter_command(const struct cli *c)
{
    const char *name = c->dead_letters ? c->dead_letters
                       : c->requeue ? c->requeue : c->test_notify;
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    struct config *cf = reg ? config_load(c->config, reg,
                                          default_plugin_dir(), &d) : NULL;
    const struct section *s;
    char *path = NULL;
    int rc = 1, many;
    long n;

    if (cf == NULL) {
        diag_print(&d, stderr);
        goto out;
    }
    s = find_output(cf, name, &many);
    if (s == NULL || many) {
        fprintf(stderr, "outpostd: %s: %s output \"%s\"\n", c->config,
                s ? "more than one" : "no", name);
        if (many)
            fprintf(stderr, "outpostd: name it as plugin:instance\n");
        goto out;
    }
    if (c->test_notify) {
        rc = testnotify_run(cf, (struct section *) s);
        goto out;
    }
    path = deadletter_path(cf->state_dir, s->plugin->name, s->instance);
    if (path == NULL) {
        fprintf(stderr, "outpostd: %s sets no state_dir: no dead letters\n",
                c->config);
        goto out;
    }
    if (c->dead_letters) {
        n = deadletter_print(path, stdout);
        if (n < 0 && errno != ENOENT)
            fprintf(stderr, "outpostd: %s: %s\n", path, strerror(errno));
        else
            rc = 0;
    } else {
        n = deadletter_requeue(path);
        if (n < 0 && errno != ENOENT) {
            fprintf(stderr, "outpostd: cannot requeue %s: %s\n", path,
                    strerror(errno));
        } else {
            fprintf(stderr, "outpostd: %ld dead letters of %s:%s queued "
                    "again; they are delivered when the agent next starts "
                    "it\n", n < 0 ? 0 : n, s->plugin->name, s->instance);
            rc = 0;
        }
    }
out:
    free(path);
    config_free(cf);
    diag_free(&d);
    registry_free(reg);
    return rc;
}

static int
daemonize(void)
{
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (freopen("/dev/null", "r", stdin) == NULL)
        return -1;
    return 0;
}

/* Signals are handled synchronously by the main thread: every other thread
 * starts with them blocked. */
static int
serve(struct agent *a)
{
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        sig = sigwaitinfo(&set, NULL);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (sig == SIGHUP) {
            log_core(OUTPOST_LOG_INFO, "reload", "SIGHUP: reloading config");
            agent_reload(a);
            continue;
        }
        log_core(OUTPOST_LOG_INFO, "stop", "%s: draining and stopping",
                 strsignal(sig));
        agent_stop(a, agent_timeout_ms(a));
        return 0;
    }
}

int
main(int argc, char **argv)
{
    struct cli c = { 0 };
    struct diag d = { 0 };
    struct agent_opts o = { 0 };
    struct agent *a;
    sigset_t set;
    int rc;

    heap_tune();
    if (parse_cli(argc, argv, &c) != 0)
        return 2;
    if (c.list || c.describe || c.sample)
        return list_or_describe(&c);
    if (c.dead_letters || c.requeue || c.test_notify) {
        rc = dead_letter_command(&c);
        intern_release_all();
        options_release_defaults();
        return rc;
    }
    if (c.dry_run) {
        rc = dryrun_main(c.config, default_plugin_dir(), c.filter);
        intern_release_all();
        options_release_defaults();
        return rc;
    }

    o.config_path = c.config;
    o.default_plugin_dir = default_plugin_dir();
    o.serve_api = !c.once && !c.test;
    a = agent_new(&o, &d);
    if (a == NULL || c.test) {
        diag_print(&d, stderr);
        if (c.test && a) {
            config_summary(agent_config(a), stderr);
            fprintf(stderr, "%s: configuration is valid\n", c.config);
        }
        rc = a == NULL ? 1 : 0;
        diag_free(&d);
        agent_free(a);
        intern_release_all();
        options_release_defaults();
        return rc;
    }
    /* What -t prints as warnings (an option the chosen provider ignores)
     * is logged on a real start too, as a reload logs it. */
    for (size_t i = 0; i < d.nwarns; i++)
        log_core(OUTPOST_LOG_WARN, "config", "%s", d.warns[i]);
    diag_free(&d);

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (!c.foreground && daemonize() != 0) {
        fprintf(stderr, "outpostd: cannot daemonize: %s\n", strerror(errno));
        agent_free(a);
        return 1;
    }
    if (agent_start(a, c.once) != 0) {
        agent_free(a);
        return 1;
    }
    if (c.once) {
        rc = agent_finish_once(a);
        agent_stop(a, 0);
    } else {
        rc = serve(a);
    }
    agent_free(a);
    intern_release_all();
    options_release_defaults();
    return rc;
}
