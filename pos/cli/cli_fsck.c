/*
** cli_fsck.c: `kassa fsck [--json]`: the data directory's invariants
** (pos/till/fsck.h). Exit 0 clean, 1 a problem found (each one printed), 2 usage.
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos/cli/cli.h"
#include "pos/till/fsck.h"

int cli_fsck(const kassa_config_t *cfg, int argc, char **argv)
{
  bool json = false, help = false;
  const cli_option_t options[] = {{"json", 0, NULL, &json}, {"help", 'h', NULL, &help}};
  int at;
  int read = cli_read_options(argc, argv, options, 2, &at);
  if (help || read != CLI_OPTIONS_OK || at < argc) {
    fprintf(help ? stdout : stderr,
            "usage: kassa fsck [--json]\n\nChecks the data directory: document "
            "numbering, fiscal signs, the outbox,\nno code sold twice, the code cache "
            "against the FN archive. Changes nothing.\n");
    return help ? 0 : 2;
  }
  fsck_report_t *r = malloc(sizeof *r);
  char err[256];
  if (!r) return 1;
  if (fsck_run(cfg->data_dir, r, err, sizeof err) != 0) {
    fprintf(stderr, "kassa fsck: %s\n", err);
    free(r);
    return 1;
  }
  if (json) {
    json_t *problems = json_array(), *notes = json_array();
    for (size_t i = 0; i < r->problem_count && i < FSCK_MAX_PROBLEMS; i++)
      json_array_append_new(problems, json_pack("{s:s,s:s}", "check", r->problems[i].check,
                                                "detail", r->problems[i].detail));
    for (size_t i = 0; i < r->note_count; i++)
      json_array_append_new(notes, json_string(r->notes[i]));
    json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "clean",
                          r->problem_count == 0, "documents", (json_int_t)r->documents, "receipts",
                          (json_int_t)r->receipts, "marked_sales", (json_int_t)r->marked_sales,
                          "returns", (json_int_t)r->returns, "sold_now", (json_int_t)r->sold_now,
                          "cache_applied", (json_int_t)r->cache_applied, "unsent_documents",
                          (json_int_t)r->unsent_documents, "problem_count",
                          (json_int_t)r->problem_count, "problems", problems, "notes", notes);
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) puts(s);
    free(s);
    json_decref(o);
  } else {
    printf("documents %u, receipts %u, marked sales %u, returns %u, sold now %u, cache applied "
           "%u, unsent %u\n",
           r->documents, r->receipts, r->marked_sales, r->returns, r->sold_now, r->cache_applied,
           r->unsent_documents);
    for (size_t i = 0; i < r->problem_count && i < FSCK_MAX_PROBLEMS; i++)
      printf("FAIL %-9s %s\n", r->problems[i].check, r->problems[i].detail);
    if (r->problem_count > FSCK_MAX_PROBLEMS)
      printf("... and %zu more\n", r->problem_count - FSCK_MAX_PROBLEMS);
    for (size_t i = 0; i < r->note_count; i++) printf("note: %s\n", r->notes[i]);
    puts(r->problem_count ? "kassa fsck: PROBLEMS FOUND" : "kassa fsck: clean");
  }
  int rc = r->problem_count ? 1 : 0;
  free(r);
  return rc;
}
