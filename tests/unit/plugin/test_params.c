// Unit tests of plugin/schema/params.c: one table of options read as
// plugin parameters and as a command line, the same kinds and messages.
#include <check.h>
#include <string.h>

#include "schema/params.h"

Suite *params_suite(void);

typedef struct opts {
  const char *api;
  bool flag;
} opts;

static const char *parse(cps_pool *mem, const char *text, opts *o) {
  const cps_param_spec specs[] = {
      {"api_macro", CPS_PARAM_IDENT, &o->api, ""},
      {"flag", CPS_PARAM_BOOL, &o->flag, ""},
  };
  return cps_params_parse(mem, text, specs, 2);
}

START_TEST(test_params_accepts_known_keys) {
  cps_pool *mem = cps_pool_new();
  opts o = {NULL, false};
  ck_assert_ptr_null(parse(mem, "api_macro=MY_API,flag", &o));
  ck_assert_str_eq(o.api, "MY_API");
  ck_assert(o.flag);
  ck_assert_ptr_null(parse(mem, "", &o));
  ck_assert_ptr_null(parse(mem, NULL, &o));
  cps_pool_free(mem);
}
END_TEST

START_TEST(test_params_rejects_unknown_key) {
  cps_pool *mem = cps_pool_new();
  opts o = {NULL, false};
  ck_assert_str_eq(parse(mem, "api_macro=A,colour=blue", &o),
                   "unknown parameter \"colour\" (known parameters: api_macro, flag)");
  cps_pool_free(mem);
}
END_TEST

START_TEST(test_params_rejects_bad_values) {
  cps_pool *mem = cps_pool_new();
  opts o = {NULL, false};
  ck_assert_str_eq(parse(mem, "api_macro=1abc", &o),
                   "parameter api_macro: \"1abc\" is not a C identifier");
  ck_assert_str_eq(parse(mem, "api_macro", &o), "parameter api_macro needs a value (api_macro=...)");
  ck_assert_str_eq(parse(mem, "flag=maybe", &o),
                   "parameter flag: expected true or false, got \"maybe\"");
  cps_pool_free(mem);
}
END_TEST

// The last value given counts; one not given leaves the caller's default.
START_TEST(test_params_last_value_counts) {
  cps_pool *mem = cps_pool_new();
  opts o = {"DEFAULT", false};
  ck_assert_ptr_null(parse(mem, "flag", &o));
  ck_assert_str_eq(o.api, "DEFAULT");
  ck_assert_ptr_null(parse(mem, "api_macro=A,api_macro=B", &o));
  ck_assert_str_eq(o.api, "B");
  cps_pool_free(mem);
}
END_TEST

// Every kind, in both spellings, with the last value given counting.
typedef struct all {
  const char *name;
  bool on;
  int n;
  int colour;
  cps_param_list dirs;
  bool help;
  const char *file;
} all;

static const char *const kColours[] = {"red", "green", "blue", NULL};

#define ALL_SPECS(a, choice)                                                  \
  {                                                                           \
    {"name", CPS_PARAM_IDENT, &(a)->name, "an identifier"},                   \
        {"on", CPS_PARAM_BOOL, &(a)->on, "a flag"},                           \
        {"count=N", CPS_PARAM_INT, &(a)->n, "a number"},                      \
        {"colour", CPS_PARAM_CHOICE, &(choice), "a colour,\nin two lines"},   \
        {"I=DIR", CPS_PARAM_LIST, &(a)->dirs, "a directory"},                 \
        {"help", CPS_PARAM_COMMAND, &(a)->help, "this help"},                 \
        {"h", CPS_PARAM_COMMAND, &(a)->help, NULL},                           \
        {NULL, CPS_PARAM_STRING, &(a)->file, "input file"},                   \
  }

static const char *params(cps_pool *mem, const char *text, all *a) {
  memset(a, 0, sizeof *a);
  cps_param_choice colour = {kColours, &a->colour};
  const cps_param_spec specs[] = ALL_SPECS(a, colour);
  return cps_params_parse(mem, text, specs, (int)(sizeof specs / sizeof specs[0]));
}

static const char *args(cps_pool *mem, all *a, int argc, const char *const *argv) {
  memset(a, 0, sizeof *a);
  cps_param_choice colour = {kColours, &a->colour};
  const cps_param_spec specs[] = ALL_SPECS(a, colour);
  return cps_args_parse(mem, argc, (char **)argv, specs, (int)(sizeof specs / sizeof specs[0]));
}

#define ARGS(mem, a, ...) \
  args(mem, a, (int)(sizeof((const char *[]){"prog", __VA_ARGS__}) / sizeof(const char *)), \
       (const char *[]){"prog", __VA_ARGS__})

START_TEST(test_params_every_kind_as_parameters) {
  cps_pool *mem = cps_pool_new();
  all a;
  ck_assert_ptr_null(params(mem, "name=x_1,on,count=-42,colour=blue,I=a,I=b,on=false", &a));
  ck_assert_str_eq(a.name, "x_1");
  ck_assert(!a.on);
  ck_assert_int_eq(a.n, -42);
  ck_assert_int_eq(a.colour, 2);
  ck_assert_uint_eq(a.dirs.count, 2);
  ck_assert_str_eq(a.dirs.items[0], "a");
  ck_assert_str_eq(a.dirs.items[1], "b");
  ck_assert_str_eq(params(mem, "colour=pink", &a),
                   "parameter colour must be red, green or blue, not pink");
  ck_assert_str_eq(params(mem, "count=12x", &a), "parameter count: expected a whole number, got \"12x\"");
  ck_assert_str_eq(params(mem, "count=99999999999", &a),
                   "parameter count: expected a whole number, got \"99999999999\"");
  ck_assert_str_eq(params(mem, "help=1", &a), "parameter help takes no value");
  ck_assert_str_eq(params(mem, "size=1", &a),
                   "unknown parameter \"size\" (known parameters: name, on, count, colour, I, help, h)");
  cps_pool_free(mem);
}
END_TEST

START_TEST(test_params_every_kind_on_a_command_line) {
  cps_pool *mem = cps_pool_new();
  all a;
  ck_assert_ptr_null(ARGS(mem, &a, "--name", "x", "--on", "--count=7", "--colour", "green", "-Ia",
                          "-I", "b", "in.proto", "--name=y"));
  ck_assert_str_eq(a.name, "y");
  ck_assert(a.on);
  ck_assert_int_eq(a.n, 7);
  ck_assert_int_eq(a.colour, 1);
  ck_assert_uint_eq(a.dirs.count, 2);
  ck_assert_str_eq(a.dirs.items[1], "b");
  ck_assert_str_eq(a.file, "in.proto");
  ck_assert_ptr_null(ARGS(mem, &a, "-", "--on=0"));
  ck_assert_str_eq(a.file, "-");
  ck_assert(!a.on);
  cps_pool_free(mem);
}
END_TEST

START_TEST(test_params_command_line_errors_name_the_argument) {
  cps_pool *mem = cps_pool_new();
  all a;
  ck_assert_str_eq(ARGS(mem, &a, "--bogus", "f"), "unknown option --bogus");
  ck_assert_str_eq(ARGS(mem, &a, "--on=maybe", "f"), "--on: expected true or false, got \"maybe\"");
  ck_assert_str_eq(ARGS(mem, &a, "f", "--name"), "missing value after --name");
  ck_assert_str_eq(ARGS(mem, &a, "f", "-I"), "missing value after -I");
  ck_assert_str_eq(ARGS(mem, &a, "--name", "1x", "f"), "--name: \"1x\" is not a C identifier");
  ck_assert_str_eq(ARGS(mem, &a, "--colour=pink", "f"), "--colour must be red, green or blue, not pink");
  ck_assert_str_eq(ARGS(mem, &a, "f", "g"), "more than one input file: g");
  ck_assert_str_eq(ARGS(mem, &a, "--on"), "missing the input file");
  ck_assert_str_eq(ARGS(mem, &a, "--I", "x", "f"), "unknown option --I");
  ck_assert_str_eq(ARGS(mem, &a, "--help=x"), "--help takes no value");
  // Keys as they come, values at the end: the last value counts, a later
  // unknown option is reported before an earlier bad value.
  ck_assert_ptr_null(ARGS(mem, &a, "--colour=pink", "--colour=red", "f"));
  ck_assert_str_eq(ARGS(mem, &a, "--colour=pink", "--bogus", "f"), "unknown option --bogus");
  cps_pool_free(mem);
}
END_TEST

START_TEST(test_params_command_ends_the_parse) {
  cps_pool *mem = cps_pool_new();
  all a;
  ck_assert_ptr_null(ARGS(mem, &a, "--colour=pink", "-h", "--bogus"));
  ck_assert(a.help);
  ck_assert_int_eq(a.colour, 0);  // neither checked nor stored
  ck_assert_ptr_null(a.file);     // and not missing
  ck_assert_str_eq(ARGS(mem, &a, "--bogus", "--help"), "unknown option --bogus");
  cps_pool_free(mem);
}
END_TEST

START_TEST(test_params_no_positional_rows) {
  cps_pool *mem = cps_pool_new();
  bool v = false;
  const cps_param_spec specs[] = {{"version", CPS_PARAM_COMMAND, &v, "print the version"}};
  char *argv[] = {"prog", "x", NULL};
  ck_assert_str_eq(cps_args_parse(mem, 2, argv, specs, 1), "unknown argument x");
  ck_assert_ptr_null(cps_args_parse(mem, 1, argv, specs, 1));
  ck_assert(!v);
  cps_pool_free(mem);
}
END_TEST

START_TEST(test_params_help_from_the_table) {
  all a = {0};
  cps_param_choice colour = {kColours, &a.colour};
  const cps_param_spec specs[] = ALL_SPECS(&a, colour);
  cps_buf out = {0};
  cps_args_help(specs, (int)(sizeof specs / sizeof specs[0]), &out);
  ck_assert_str_eq(cps_buf_str(&out),
                   "  --name IDENT     an identifier\n"
                   "  --on             a flag\n"
                   "  --count N        a number\n"
                   "  --colour red|green|blue  a colour,\n"
                   "                   in two lines\n"
                   "  -I DIR           a directory\n"
                   "  --help           this help\n");
  cps_buf_free(&out);
  cps_params_help(specs, (int)(sizeof specs / sizeof specs[0]), &out);
  ck_assert_str_eq(cps_buf_str(&out),
                   "  name=IDENT       an identifier\n"
                   "  on               a flag\n"
                   "  count=N          a number\n"
                   "  colour=red|green|blue  a colour,\n"
                   "                   in two lines\n"
                   "  I=DIR            a directory\n"
                   "  help             this help\n");
  cps_buf_free(&out);
}
END_TEST

Suite *params_suite(void) {
  Suite *s = suite_create("params");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_params_accepts_known_keys);
  tcase_add_test(tc, test_params_rejects_unknown_key);
  tcase_add_test(tc, test_params_rejects_bad_values);
  tcase_add_test(tc, test_params_last_value_counts);
  tcase_add_test(tc, test_params_every_kind_as_parameters);
  tcase_add_test(tc, test_params_every_kind_on_a_command_line);
  tcase_add_test(tc, test_params_command_line_errors_name_the_argument);
  tcase_add_test(tc, test_params_command_ends_the_parse);
  tcase_add_test(tc, test_params_no_positional_rows);
  tcase_add_test(tc, test_params_help_from_the_table);
  suite_add_tcase(s, tc);
  return s;
}
