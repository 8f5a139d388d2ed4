/*
 * registry.h - the loaded plugins. Modules are opened with libltdl from
 * plugin_dir; tests and benchmarks may also add plugins compiled into the
 * program. Every plugin passes the ABI check before it is added.
 */
#ifndef OUTPOST_REGISTRY_H
#define OUTPOST_REGISTRY_H

#include <outpost/plugin.h>
#include "diag.h"

struct registry;

struct registry *registry_new(void);
void registry_free(struct registry *r);

/* Checks abi_version, struct_size (a plugin built for a newer minor must
 * leave the fields this core does not know zero) and required fields. 0
 * when usable; otherwise -1 with a message naming the plugin (origin) and
 * both ABI versions in err. */
int registry_check_abi(const outpost_plugin_t *p, const char *origin,
                       char *err, size_t errlen);

/* Adds a plugin that is compiled in. -1 (and a diag) when the ABI check
 * fails or the name is taken. */
int registry_add(struct registry *r, const outpost_plugin_t *p,
                 const char *origin, struct diag *d);

/* Opens one module (path with or without ".so"). */
int registry_load_file(struct registry *r, const char *path, struct diag *d);

/* Opens every module in dir, skipping names already registered. Returns the
 * number added; problems go to d. */
int registry_load_dir(struct registry *r, const char *dir, struct diag *d);

const outpost_plugin_t *registry_find(const struct registry *r,
                                      const char *name);
size_t registry_count(const struct registry *r);
const outpost_plugin_t *registry_at(const struct registry *r, size_t i);
/* The fields appended in ABI 1.1, where p's struct has them, else NULL. */
typedef int (*registry_provider_check_fn)(const void *conf,
                                          const char *provider, char *err,
                                          size_t errlen);
const char *const *registry_providers(const outpost_plugin_t *p);
registry_provider_check_fn
registry_validate_provider(const outpost_plugin_t *p);
/* The fields appended in ABI 1.2 (outputs), where p's struct has them. */
const outpost_default_t *registry_output_defaults(const outpost_plugin_t *p);
typedef void (*registry_tick_fn)(outpost_instance_t *inst);
registry_tick_fn registry_output_tick(const outpost_plugin_t *p);
/* The field appended in ABI 1.3: the options' examples, or NULL. */
const outpost_default_t *registry_option_examples(const outpost_plugin_t *p);

#endif
