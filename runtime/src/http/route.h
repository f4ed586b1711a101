// The router of the HTTP listener (issue 18): the google.api.http bindings
// of the served methods, compiled once (templates parsed by template.h,
// every field they name resolved against the method's request and response
// descriptions), and the match of a request's verb and path against them.
//
// Matching: the path (before '?', still percent-encoded) is split into
// segments; "." and ".." segments, empty segments and bad percent-encoding
// are refused (400) rather than guessed at. A last segment holding ':' is
// tried both ways: as segments plus a verb ("/v1/charges:batch" against
// "/v1/charges:batch"), and whole (against a template whose literal or
// variable takes "a:b"). When several bindings match, the most specific
// wins: segment by segment, a literal beats "*" (or a variable's one
// segment), which beats "**"; a template with a verb beats one without;
// then the binding added first. Literals are compared percent-decoded.
//
// Variables: a single-segment variable ("{id}", "{id=*}") gets its segment
// fully percent-decoded; a multi-segment one ("{name=projects/*/items/**}")
// gets its segments joined with '/' and decoded except "%2F", which stays
// encoded (grpc-gateway's default), so that the value's '/' are separators.
//
// The router is built, then only read: matching from many threads at once
// is safe once no more bindings are added.
#ifndef CPAY_SRC_HTTP_ROUTE_H_
#define CPAY_SRC_HTTP_ROUTE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/gencode.h"
#include "cpay/grpc.h"
#include "http/template.h"

// One field of a field path: field `index` of message `msg` (indexes into
// msg->table->fields and the description's arrays).
typedef struct cpay__http_step {
  const cpay_msg_desc *msg;
  uint32_t index;
} cpay__http_step;

// A resolved field path ("shelf.id"): its steps from the top message, and
// the text as written (into the rule's strings, not NUL-terminated).
typedef struct cpay__http_fpath {
  const cpay__http_step *steps;
  size_t count;  // 0: no field
  const char *text;
  size_t len;
} cpay__http_fpath;

typedef enum cpay__http_body_kind {
  CPAY__HTTP_BODY_NONE = 0,   // no body: a non-empty one is refused
  CPAY__HTTP_BODY_WHOLE = 1,  // "*": the body is the whole request
  CPAY__HTTP_BODY_FIELD = 2,  // the body is the value of field `body`
} cpay__http_body_kind;

// One compiled rule of one method.
typedef struct cpay__http_binding {
  const cpay_method *method;
  const cpay_http_rule *rule;  // &method->http_rules[rule_index]
  size_t rule_index;
  void *target;  // what router_add was given (the listener's service entry)
  cpay__tpl tpl;
  const cpay__http_fpath *vars;  // parallel to tpl.vars
  cpay__http_body_kind body_kind;
  cpay__http_fpath body;           // CPAY__HTTP_BODY_FIELD: the request field
  cpay__http_fpath response_body;  // count 0: the whole response
  size_t min_segs, max_segs;       // request segments the template can take (SIZE_MAX: "**")
  const cpay_str *lits;  // parallel to tpl.segs: literals percent-decoded ({NULL, 0} otherwise)
  cpay_str verb;         // tpl.verb percent-decoded; {NULL, 0} when none
} cpay__http_binding;

// A variable the matched path set: its field and its decoded value.
typedef struct cpay__http_capture {
  const cpay__http_fpath *field;
  cpay_str value;  // on the arena given to cpay__http_router_match
} cpay__http_capture;

typedef struct cpay__http_match {
  const cpay__http_binding *binding;
  const cpay__http_capture *vars;  // in template order
  size_t var_count;
} cpay__http_match;

typedef struct cpay__http_router cpay__http_router;

// A new empty router; NULL with `st` set when out of memory. Free with
// cpay__http_router_free.
cpay__http_router *cpay__http_router_new(cpay_status *st);

// Frees the router and its bindings. Accepts NULL.
void cpay__http_router_free(cpay__http_router *r);

// Compiles every rule of `m` (m->http_rules[0 .. http_rule_count)) and adds
// them, with `target`, for cpay__http_router_match. `m` and its rules'
// strings must outlive the router. Fails with CPAY_ERR_INVALID_ARGUMENT,
// adding none of m's rules, when a method has no request or response
// description or no rules, a verb is empty, a template does not parse, a
// variable names no field of the request or one that is repeated, a map or
// a message without a string form (Timestamp, Duration, FieldMask and the
// wrappers have one), or the body or response_body names no field; the
// message names the method, the rule and the template offset, e.g.
// "ChargeCard: rule 0 (GET /v1/{customer}): template offset 5: request
// payments.v1.ChargeRequest has no field 'customer'". CPAY_ERR_NO_MEMORY
// when out of memory.
CPAY_NODISCARD cpay_code cpay__http_router_add(cpay__http_router *r, const cpay_method *m,
                                               void *target, cpay_status *st);

// The number of bindings added.
size_t cpay__http_router_count(const cpay__http_router *r);

// Matches a request: `verb` (NUL-terminated, case-sensitive, "GET") and
// `path` (`path_len` bytes: the request target before '?', still
// percent-encoded). On CPAY_OK *out holds the binding and the captured
// variables, allocated on `a` (as is the decoded text). Otherwise:
// - CPAY_ERR_INVALID_ARGUMENT (answer 400): the path is not absolute, has
//   an empty, "." or ".." segment, or bad percent-encoding (%zz, a cut %4);
// - CPAY_ERR_NOT_FOUND (404): no template matches the path;
// - CPAY_ERR_UNIMPLEMENTED (405): templates match the path but none has
//   `verb`; *allow (if non-NULL) lists their verbs, "GET, POST", on `a`;
// - CPAY_ERR_NO_MEMORY.
// `st` says which, naming the path.
CPAY_NODISCARD cpay_code cpay__http_router_match(const cpay__http_router *r, const char *verb,
                                                 const char *path, size_t path_len,
                                                 cpay_arena *a, cpay__http_match *out,
                                                 cpay_str *allow, cpay_status *st);

// Resolves the dotted field path `text` (`len` bytes; proto names, or JSON
// names) from message `top`, with its steps on `a`. The field in each step
// but the last must be a singular message. False when a name is not a
// field, or a step before the last is not a singular message; *bad_step
// (if non-NULL) then gets the index of the name that failed, or SIZE_MAX
// when out of memory. Shared by the
// router (template variables, body, response_body) and the binder (query
// parameters).
bool cpay__http_resolve(const cpay_msg_desc *top, const char *text, size_t len, cpay_arena *a,
                        cpay__http_fpath *out, size_t *bad_step);

// Why cpay__http_resolve failed at step `bad` (not SIZE_MAX), into `buf`:
// "pkg.Msg has no field 'zz'", or "'a.b' is not a singular message field of
// pkg.Top".
void cpay__http_resolve_error(const cpay_msg_desc *top, const char *text, size_t len,
                              size_t bad, cpay_arena *a, char *buf, size_t cap);

// The field of the last step of `p` (count > 0).
static inline const cpay_field *cpay__http_fpath_leaf(const cpay__http_fpath *p) {
  const cpay__http_step *s = &p->steps[p->count - 1];
  return &s->msg->table->fields[s->index];
}

// NULL when the field of path `p` can take a value from a path variable or
// a query parameter: a singular (or, with `repeated_ok`, repeated) field
// that is not a map, and not a message unless a well-known type with a
// string form (Timestamp, Duration, FieldMask, the wrappers). Otherwise
// what it is: "a repeated field", "a map", "a message".
const char *cpay__http_leaf_problem(const cpay__http_fpath *p, bool repeated_ok);

// Whether one of `a` and `b` is the other or a field inside it.
bool cpay__http_fpath_overlaps(const cpay__http_fpath *a, const cpay__http_fpath *b);

// Percent-decodes `n` bytes at `s` onto `a` (NUL-terminated). With
// `keep_slash`, "%2F" and "%2f" stay as they are; with `plus_space`, '+' is
// a space (query strings). False with *bad (if non-NULL) at the offending
// '%' for a '%' not followed by two hex digits, or when out of memory
// (*bad then SIZE_MAX).
bool cpay__http_pct_decode(const char *s, size_t n, bool keep_slash, bool plus_space,
                           cpay_arena *a, cpay_str *out, size_t *bad);

#endif  // CPAY_SRC_HTTP_ROUTE_H_
