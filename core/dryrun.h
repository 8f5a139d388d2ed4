/*
 * dryrun.h - `outpostd --test`: run the inputs once through the filters
 * and print one line per check (dryrun.c).
 */
#ifndef OUTPOST_DRYRUN_H
#define OUTPOST_DRYRUN_H

/* Loads config_path (plugins from its plugin_dir, else plugin_dir), runs
 * the inputs whose instance name matches the fnmatch(3) glob (NULL: all)
 * and prints their checks on stdout. 0 when every check succeeded, 1
 * otherwise (or when the config is refused, or nothing matched). */
int dryrun_main(const char *config_path, const char *plugin_dir,
                const char *glob);

#endif
