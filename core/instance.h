/*
 * instance.h - one configured plugin instance (a config section), as the
 * core sees it. Plugins only see the opaque outpost_instance_t.
 */
#ifndef OUTPOST_INSTANCE_H
#define OUTPOST_INSTANCE_H

#include <stdatomic.h>
#include <stdint.h>
#include <outpost/plugin.h>
#include "config.h"

struct match_rule {
    const char *key;          /* interned tag key, or a field name */
    char       *pattern;      /* fnmatch(3) glob */
};

struct outpost_instance {
    const outpost_plugin_t *plugin;
    char                   *name;
    char                   *file;       /* where it was configured */
    int                     line;
    void                   *conf;       /* owned; released in instance_free */
    void                   *data;       /* the plugin's */
    struct common_conf      common;     /* resolved: no zeroes left */
    outpost_tagset_t       *tags;
    char                   *state_root; /* state_dir */
    char                   *state_dir;  /* state_dir/<plugin>/<name>, lazy */
    struct match_rule      *match;
    size_t                  nmatch;
    int                     live;       /* init succeeded */
    void                   *rt;         /* runtime of scheduler / output */
    _Atomic uint64_t        errors;     /* messages it logged at error
                                           level (/metrics), any thread */
};

/* Takes s->conf (sets it to NULL) and resolves defaults from c. */
outpost_instance_t *instance_new(struct section *s, const struct config *c);
int  instance_init(outpost_instance_t *inst);      /* calls plugin init */
void instance_shutdown(outpost_instance_t *inst);  /* if live */
void instance_free(outpost_instance_t *inst);

/* Does rec pass inst's `match` rules? Rules name tags ("integration=str*");
 * "kind=event" / "kind=measurement" and "name=..." match the record. */
int  instance_matches(const outpost_instance_t *inst,
                      const outpost_record_t *rec);

/* mkdir -p; 0 or -1 with errno. */
int  instance_mkdir_p(const char *path);

#endif
