// grpc.reflection.v1 and v1alpha ServerReflection: lists the registered
// services and answers file requests from the FileDescriptorProtos that the
// generator embeds in every foo.cpay_grpc.c (each service carries its file
// and that file's imports). v1alpha is wire-identical to v1, so one handler
// serves both; the messages come from grpc-proto's reflection.proto,
// compiled by cpay itself.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.cpay.h"
#include "grpc/internal.h"
#include "grpc/reflection/v1/reflection.cpay_grpc.h"
#include "grpc/reflection/v1alpha/reflection.cpay_grpc.h"

typedef grpc_reflection_v1_ServerReflectionRequest refl_req;
typedef grpc_reflection_v1_ServerReflectionResponse refl_resp;

// The first descriptor named `name` among the registered services' files.
static const cpay_file_descriptor *find_file(const cpay_server *srv, cpay_str name) {
  for (size_t i = 0; i < cpay__server_service_count(srv); i++) {
    const cpay_service_desc *svc = cpay__server_service(srv, i);
    for (size_t k = 0; k < svc->file_count; k++) {
      const cpay_file_descriptor *f = &svc->files[k];
      if (cpay_str_eq(cpay_str_from_c(f->name), name)) return f;
    }
  }
  return NULL;
}

static bool name_is(cpay_str want, cpay_str prefix, cpay_str name) {
  // want == prefix + "." + name (prefix may be empty)
  size_t need = prefix.size + (prefix.size ? 1 : 0) + name.size;
  if (want.size != need) return false;
  if (prefix.size) {
    if (memcmp(want.data, prefix.data, prefix.size) != 0 || want.data[prefix.size] != '.') {
      return false;
    }
  }
  return name.size == 0 || memcmp(want.data + need - name.size, name.data, name.size) == 0;
}

static bool starts_scope(cpay_str want, cpay_str prefix, cpay_str name) {
  // want begins with prefix + "." + name + "."
  size_t head = prefix.size + (prefix.size ? 1 : 0) + name.size;
  return want.size > head + 1 && want.data[head] == '.' &&
         name_is((cpay_str){want.data, head}, prefix, name);
}

static bool message_has(const google_protobuf_DescriptorProto *m, cpay_str scope, cpay_str want,
                        cpay_arena *a);

static bool messages_have(google_protobuf_DescriptorProto *const *msgs, size_t count,
                          cpay_str scope, cpay_str want, cpay_arena *a) {
  for (size_t i = 0; i < count; i++) {
    if (name_is(want, scope, msgs[i]->name)) return true;
    if (starts_scope(want, scope, msgs[i]->name)) {
      size_t n = scope.size + (scope.size ? 1 : 0) + msgs[i]->name.size;
      if (message_has(msgs[i], (cpay_str){want.data, n}, want, a)) return true;
    }
  }
  return false;
}

static bool message_has(const google_protobuf_DescriptorProto *m, cpay_str scope, cpay_str want,
                        cpay_arena *a) {
  for (size_t i = 0; i < m->field.size; i++) {
    if (name_is(want, scope, m->field.data[i]->name)) return true;
  }
  for (size_t i = 0; i < m->enum_type.size; i++) {
    if (name_is(want, scope, m->enum_type.data[i]->name)) return true;
  }
  for (size_t i = 0; i < m->extension.size; i++) {
    if (name_is(want, scope, m->extension.data[i]->name)) return true;
  }
  return messages_have(m->nested_type.data, m->nested_type.size, scope, want, a);
}

// True when the file defines `symbol` (a message, enum, service, method,
// field or extension, by full name).
static bool file_has_symbol(const google_protobuf_FileDescriptorProto *fd, cpay_str want,
                            cpay_arena *a) {
  cpay_str pkg = fd->package;
  for (size_t i = 0; i < fd->enum_type.size; i++) {
    if (name_is(want, pkg, fd->enum_type.data[i]->name)) return true;
  }
  for (size_t i = 0; i < fd->extension.size; i++) {
    if (name_is(want, pkg, fd->extension.data[i]->name)) return true;
  }
  for (size_t i = 0; i < fd->service.size; i++) {
    const google_protobuf_ServiceDescriptorProto *s = fd->service.data[i];
    if (name_is(want, pkg, s->name)) return true;
    if (starts_scope(want, pkg, s->name)) {
      size_t n = pkg.size + (pkg.size ? 1 : 0) + s->name.size;
      for (size_t k = 0; k < s->method.size; k++) {
        if (name_is(want, (cpay_str){want.data, n}, s->method.data[k]->name)) return true;
      }
    }
  }
  return messages_have(fd->message_type.data, fd->message_type.size, pkg, want, a);
}

static void set_error(refl_resp *resp, cpay_arena *a, cpay_grpc_code code, const char *msg) {
  grpc_reflection_v1_ErrorResponse *e =
      grpc_reflection_v1_ServerReflectionResponse_mutable_error_response(resp, a);
  if (!e) return;
  e->error_code = (int32_t)code;
  e->error_message = cpay_str_from_c(msg);
}

// Adds `f` and, transitively, its imports (each once) to `out`.
static cpay_code add_with_deps(const cpay_server *srv, const cpay_file_descriptor *f,
                               grpc_reflection_v1_FileDescriptorResponse *out, cpay_arena *a,
                               const cpay_file_descriptor ***seen, size_t *seen_count) {
  for (size_t i = 0; i < *seen_count; i++) {
    if ((*seen)[i] == f) return CPAY_OK;
  }
  const cpay_file_descriptor **s =
      cpay_arena_realloc(a, *seen, *seen_count * sizeof **seen, (*seen_count + 1) * sizeof **seen);
  if (!s) return CPAY_ERR_NO_MEMORY;
  s[(*seen_count)++] = f;
  *seen = s;
  cpay_code c = grpc_reflection_v1_FileDescriptorResponse_add_file_descriptor_proto(
      out, (cpay_bytes){f->data, f->size}, a);
  if (c != CPAY_OK) return c;
  google_protobuf_FileDescriptorProto *fd;
  c = google_protobuf_FileDescriptorProto_parse(f->data, f->size, a, &fd, NULL);
  if (c != CPAY_OK) return c;
  for (size_t i = 0; i < fd->dependency.size; i++) {
    const cpay_file_descriptor *dep = find_file(srv, fd->dependency.data[i]);
    if (dep && (c = add_with_deps(srv, dep, out, a, seen, seen_count)) != CPAY_OK) return c;
  }
  return CPAY_OK;
}

static cpay_code answer_files(const cpay_server *srv, const cpay_file_descriptor *f,
                              refl_resp *resp, cpay_arena *a) {
  grpc_reflection_v1_FileDescriptorResponse *out =
      grpc_reflection_v1_ServerReflectionResponse_mutable_file_descriptor_response(resp, a);
  if (!out) return CPAY_ERR_NO_MEMORY;
  const cpay_file_descriptor **seen = NULL;
  size_t seen_count = 0;
  return add_with_deps(srv, f, out, a, &seen, &seen_count);
}

static const cpay_file_descriptor *file_of_symbol(const cpay_server *srv, cpay_str symbol,
                                                  cpay_arena *a) {
  for (size_t i = 0; i < cpay__server_service_count(srv); i++) {
    const cpay_service_desc *svc = cpay__server_service(srv, i);
    for (size_t k = 0; k < svc->file_count; k++) {
      google_protobuf_FileDescriptorProto *fd;
      if (google_protobuf_FileDescriptorProto_parse(svc->files[k].data, svc->files[k].size, a,
                                                    &fd, NULL) != CPAY_OK) {
        continue;
      }
      if (file_has_symbol(fd, symbol, a)) return &svc->files[k];
    }
  }
  return NULL;
}

static cpay_code answer(const cpay_server *srv, const refl_req *req, refl_resp *resp,
                        cpay_arena *a) {
  resp->valid_host = req->host;
  resp->original_request = (refl_req *)req;
  switch (grpc_reflection_v1_ServerReflectionRequest_which_message_request(req)) {
    case grpc_reflection_v1_ServerReflectionRequest_message_request_list_services: {
      grpc_reflection_v1_ListServiceResponse *list =
          grpc_reflection_v1_ServerReflectionResponse_mutable_list_services_response(resp, a);
      if (!list) return CPAY_ERR_NO_MEMORY;
      for (size_t i = 0; i < cpay__server_service_count(srv); i++) {
        grpc_reflection_v1_ServiceResponse *s =
            grpc_reflection_v1_ListServiceResponse_add_service(list, a);
        if (!s) return CPAY_ERR_NO_MEMORY;
        s->name = cpay_str_from_c(cpay__server_service(srv, i)->full_name);
      }
      return CPAY_OK;
    }
    case grpc_reflection_v1_ServerReflectionRequest_message_request_file_by_filename: {
      const cpay_file_descriptor *f = find_file(srv, req->file_by_filename);
      if (!f) {
        set_error(resp, a, CPAY_GRPC_NOT_FOUND, "file not found");
        return CPAY_OK;
      }
      return answer_files(srv, f, resp, a);
    }
    case grpc_reflection_v1_ServerReflectionRequest_message_request_file_containing_symbol: {
      const cpay_file_descriptor *f = file_of_symbol(srv, req->file_containing_symbol, a);
      if (!f) {
        set_error(resp, a, CPAY_GRPC_NOT_FOUND, "symbol not found");
        return CPAY_OK;
      }
      return answer_files(srv, f, resp, a);
    }
    case grpc_reflection_v1_ServerReflectionRequest_message_request_file_containing_extension:
    case grpc_reflection_v1_ServerReflectionRequest_message_request_all_extension_numbers_of_type:
      set_error(resp, a, CPAY_GRPC_NOT_FOUND, "extensions are not indexed by this server");
      return CPAY_OK;
    case grpc_reflection_v1_ServerReflectionRequest_message_request_NOT_SET:
    default:
      set_error(resp, a, CPAY_GRPC_INVALID_ARGUMENT, "empty reflection request");
      return CPAY_OK;
  }
}

// One ServerReflectionInfo stream: each request is answered before the next
// is read, so a client that sends without reading holds at most one
// answer here plus the send queue.
typedef struct refl_stream {
  const cpay_server *srv;
  cpay_arena *a;      // the request being answered and its answer
  refl_resp *unsent;  // an answer that met a full send queue
} refl_stream;

static void refl_next(refl_stream *r, cpay_server_call *call) {
  cpay_arena_reset(r->a);
  if (cpay_server_call_read(call, r->a, NULL) != CPAY_OK) cpay_server_call_finish(call);
}

// Writes `resp`, or keeps it for on_ready; reads the next request once
// it is queued.
static void refl_send(refl_stream *r, cpay_server_call *call, refl_resp *resp) {
  cpay_code c = cpay_server_call_write(call, resp, NULL);
  if (c == CPAY_ERR_WOULD_BLOCK) {
    r->unsent = resp;
    return;
  }
  r->unsent = NULL;
  if (c != CPAY_OK) {
    cpay_server_call_finish(call);
    return;
  }
  refl_next(r, call);
}

static void refl_message(void *state, cpay_server_call *call, refl_req *req) {
  refl_stream *r = state;
  if (!req) {  // the client is done asking
    cpay_server_call_finish(call);
    return;
  }
  refl_resp *resp = grpc_reflection_v1_ServerReflectionResponse_new(r->a);
  if (!resp || answer(r->srv, req, resp, r->a) != CPAY_OK) {
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory for an answer");
    return;
  }
  refl_send(r, call, resp);
}

static void refl_ready(void *state, cpay_server_call *call) {
  refl_stream *r = state;
  if (r->unsent) refl_send(r, call, r->unsent);
}

static void refl_done(void *state, cpay_server_call *call) {
  (void)call;
  refl_stream *r = state;
  cpay_arena_free(r->a);
  free(r);
}

static const grpc_reflection_v1_ServerReflection_ServerReflectionInfo_reactor kReactor = {
    .on_message = refl_message,
    .on_ready = refl_ready,
    .on_done = refl_done,
};

static void reflection_info(void *ctx, cpay_server_call *call) {
  refl_stream *r = calloc(1, sizeof *r);
  if (r && !(r->a = cpay_arena_new())) {
    free(r);
    r = NULL;
  }
  if (!r) {
    cpay_server_call_fail(call, CPAY_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  r->srv = ctx;
  grpc_reflection_v1_ServerReflection_ServerReflectionInfo_react(call, &kReactor, r);
  refl_next(r, call);
}

// v1alpha is wire-identical to v1: its service is v1's method under the
// v1alpha path, with v1alpha's name and files.
static cpay_method alpha_method;
static cpay_service_desc alpha;
static pthread_once_t alpha_once = PTHREAD_ONCE_INIT;

static cpay_handler_style alpha_style(const void *handlers, size_t index) {
  (void)handlers;
  (void)index;
  return CPAY_HANDLER_REACTOR;
}

static cpay_code alpha_dispatch(const void *handlers, size_t index, void *ctx,
                                cpay_server_call *call, const void *req, void *resp) {
  (void)handlers;
  (void)index;
  (void)req;
  (void)resp;
  reflection_info(ctx, call);
  return CPAY_OK;
}

static void init_alpha(void) {
  const cpay_service_desc *a = &grpc_reflection_v1alpha_ServerReflection_service;
  alpha_method = grpc_reflection_v1_ServerReflection_methods[0];
  alpha_method.path = a->methods[0].path;
  alpha = (cpay_service_desc){a->full_name, &alpha_method, 1, alpha_dispatch,
                              a->files,     a->file_count,  alpha_style};
}

cpay_code cpay_server_enable_reflection(cpay_server *srv, cpay_status *st) {
  grpc_reflection_v1_ServerReflection_handlers h;
  memset(&h, 0, sizeof h);
  h.on_ServerReflectionInfo = reflection_info;
  cpay_code c = cpay_server_add_service(srv, &grpc_reflection_v1_ServerReflection_service, &h,
                                        sizeof h, srv, st);
  if (c != CPAY_OK) return c;
  pthread_once(&alpha_once, init_alpha);
  return cpay_server_add_service(srv, &alpha, &h, sizeof h, srv, st);
}
