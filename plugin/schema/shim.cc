// The shim: the only code in cpay that includes libprotoc headers. It builds
// a google::protobuf::DescriptorPool from a CodeGeneratorRequest, from .proto
// files (through libprotoc's Importer) or from a FileDescriptorSet, and lowers
// every file of it into the plain C model of plugin/schema/model.h.
//
// Memory: every C struct and string of a model comes from the caller's
// cps_pool and dies with it. The DescriptorPool itself is dropped once the
// model is built; nothing in the model points into libprotobuf.
//
// No C++ exception crosses the C API: each entry point catches everything
// and turns it into a NULL result with an error string.

#include "schema/model.h"

#include "schema/editions.h"
#include "schema/pool.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/compiler/plugin.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/stubs/strutil.h>

#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#ifndef CPAY_WKT_INCLUDE_DIR
#define CPAY_WKT_INCLUDE_DIR "/usr/include"
#endif

namespace {

namespace pb = google::protobuf;
namespace pbc = google::protobuf::compiler;
namespace cpe = cpay_editions;

// google.api.http: the field number of the extension of MethodOptions that
// google/api/annotations.proto declares.
constexpr int kHttpExtension = 72295728;

// Error messages quote hostile input through cpe::Printable (editions.h).
using cpe::Printable;

// A failure with a message for the caller (bad input, not a bug).
class LoadError : public std::runtime_error {
 public:
  // what() is a C string: the text is made printable first, or a NUL in a
  // quoted name would cut the message short.
  explicit LoadError(const std::string &what) : std::runtime_error(Printable(what, true)) {}
};

// Allocates a model's blocks from a cps_pool. Blocks are zeroed, so C
// structs start with NULL pointers, zero counts and false flags.
class Store {
 public:
  explicit Store(cps_pool *mem) : mem_(mem) {}

  template <typename T>
  T *Array(size_t n) {
    static_assert(std::is_trivially_copyable<T>::value, "C structs only");
    if (n == 0) return nullptr;
    return static_cast<T *>(Block(n, sizeof(T)));
  }

  template <typename T>
  T *One() {
    return static_cast<T *>(Block(1, sizeof(T)));
  }

  // A C string: the model's names and texts end at their NUL, so a string
  // holding one would silently lose its tail; such descriptors are refused.
  const char *Str(const std::string &s) {
    if (s.find('\0') != std::string::npos)
      throw LoadError("a name or text in the descriptors contains a NUL byte: \"" + Printable(s) +
                      "\"");
    return Bytes(s);
  }

  // Arbitrary bytes (with a NUL after them, for convenience).
  const char *Bytes(const std::string &s) {
    char *p = static_cast<char *>(Block(s.size() + 1, 1));
    std::memcpy(p, s.data(), s.size());
    return p;
  }

  // NULL for an empty string (comments).
  const char *StrOrNull(const std::string &s) { return s.empty() ? nullptr : Str(s); }

 private:
  // cps_pool_alloc ends the process when memory runs out; a count that
  // cannot be a size is a descriptor no loader could have built.
  void *Block(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) throw std::bad_alloc();
    return cps_pool_alloc(mem_, n * size);
  }

  cps_pool *mem_;
};

// The json_name protoc derives from a field name when no option is given
// (descriptor.cc's ToJsonName).
std::string DefaultJsonName(const std::string &name) {
  std::string out;
  bool upper_next = false;
  for (char c : name) {
    if (c == '_') {
      upper_next = true;
    } else if (upper_next) {
      out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
      upper_next = false;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Drops json_name where it equals the derived one. FieldDescriptor::CopyTo
// writes json_name whenever the input had one, and protoc puts one on every
// field of a request or a descriptor set; this makes the embedded descriptor
// the same whichever way the schema was loaded.
void StripDefaultJsonNames(pb::FieldDescriptorProto *field) {
  if (field->has_json_name() && field->json_name() == DefaultJsonName(field->name()))
    field->clear_json_name();
}

void StripDefaultJsonNames(pb::DescriptorProto *msg) {
  for (pb::FieldDescriptorProto &f : *msg->mutable_field()) StripDefaultJsonNames(&f);
  for (pb::FieldDescriptorProto &f : *msg->mutable_extension()) StripDefaultJsonNames(&f);
  for (pb::DescriptorProto &m : *msg->mutable_nested_type()) StripDefaultJsonNames(&m);
}

// Lowers the files of a DescriptorPool into a cps_schema. Objects are
// created file by file; cross references (field types, extendees, method
// types, default enum values, file dependencies) are linked at the end, when
// every file has been lowered.
class Lowerer {
 public:
  Lowerer(cps_schema *schema, cps_pool *mem, cpe::Resolver *features)
      : schema_(*schema), store_(mem), features_(*features) {}

  // `files` must list dependencies before dependents and include every
  // transitive dependency.
  void Lower(const std::vector<const pb::FileDescriptor *> &files,
             const std::vector<const pb::FileDescriptor *> &to_generate) {
    cps_schema &schema = schema_;
    schema.file_count = files.size();
    schema.files = store_.Array<const cps_file *>(files.size());
    for (size_t i = 0; i < files.size(); i++) schema.files[i] = LowerFile(files[i]);
    schema.to_generate_count = to_generate.size();
    schema.to_generate = store_.Array<const cps_file *>(to_generate.size());
    for (size_t i = 0; i < to_generate.size(); i++) schema.to_generate[i] = Find(files_, to_generate[i]);
    Link();
  }

 private:
  template <typename K, typename V>
  static V *Find(const std::unordered_map<const K *, V *> &map, const K *key) {
    auto it = map.find(key);
    if (it == map.end()) throw LoadError("internal error: descriptor missing from the model");
    return it->second;
  }

  template <typename D>
  void FillLoc(const D *d, const cps_file *file, cps_loc *loc) {
    loc->file = file;
    pb::SourceLocation sl;
    if (!d->GetSourceLocation(&sl)) return;
    loc->line = sl.start_line + 1;
    loc->col = sl.start_column + 1;
    loc->leading_comments = store_.StrOrNull(sl.leading_comments);
    loc->trailing_comments = store_.StrOrNull(sl.trailing_comments);
  }

  // The location of a part of a file (a SourceCodeInfo path).
  void FillPathLoc(const pb::FileDescriptor *fd, const std::vector<int> &path, const cps_file *file,
                   cps_loc *loc) {
    loc->file = file;
    pb::SourceLocation sl;
    if (!fd->GetSourceLocation(path, &sl)) return;
    loc->line = sl.start_line + 1;
    loc->col = sl.start_column + 1;
  }

  // Copies the reserved names of a message or enum descriptor.
  template <typename D>
  const char **ReservedNames(const D *d) {
    const char **out = store_.Array<const char *>(static_cast<size_t>(d->reserved_name_count()));
    for (int i = 0; i < d->reserved_name_count(); i++) {
      // descriptor.proto allows any string; an empty one could reserve nothing.
      if (d->reserved_name(i).empty()) throw LoadError(d->full_name() + ": empty reserved name");
      out[i] = store_.Str(d->reserved_name(i));
    }
    return out;
  }

  cps_file *LowerFile(const pb::FileDescriptor *fd) {
    if (fd->name().empty()) throw LoadError("a file in the descriptors has an empty name");
    cps_file *f = store_.One<cps_file>();
    files_[fd] = f;
    f->name = store_.Str(fd->name());
    f->package = store_.Str(fd->package());
    // Files from libprotoc's parser (proto2 and proto3 only) are resolved
    // here; the other loaders resolved (and lowered) theirs before
    // libprotobuf built them. Dependencies come first either way.
    if (!features_.HasFile(fd->name())) {
      pb::FileDescriptorProto proto;
      fd->CopyTo(&proto);
      features_.Resolve(proto, nullptr);
    }
    const cpe::Resolver::FileInfo &info = features_.File(fd->name());
    if (info.editions) {
      f->syntax = CPS_SYNTAX_EDITIONS;
      f->edition = info.edition == cpe::kEdition2024 ? 2024 : 2023;
    } else {
      f->syntax = info.edition == cpe::kEditionProto3 ? CPS_SYNTAX_PROTO3 : CPS_SYNTAX_PROTO2;
    }
    f->features = info.features;
    f->deprecated = fd->options().deprecated();
    FillPathLoc(fd, {pb::FileDescriptorProto::kPackageFieldNumber}, f, &f->package_loc);
    FillPathLoc(fd, {pb::FileDescriptorProto::kSyntaxFieldNumber}, f, &f->syntax_loc);

    f->dep_count = static_cast<size_t>(fd->dependency_count());
    f->deps = store_.Array<const cps_file *>(f->dep_count);
    f->public_dep_count = static_cast<size_t>(fd->public_dependency_count());
    int *pub = store_.Array<int>(f->public_dep_count);
    for (int i = 0; i < fd->public_dependency_count(); i++) {
      for (int j = 0; j < fd->dependency_count(); j++) {
        if (fd->dependency(j) == fd->public_dependency(i)) {
          pub[i] = j;
          break;
        }
      }
    }
    f->public_deps = pub;
    file_links_.emplace_back(f, fd);

    f->message_count = static_cast<size_t>(fd->message_type_count());
    f->messages = store_.Array<cps_message>(f->message_count);
    for (int i = 0; i < fd->message_type_count(); i++)
      LowerMessage(fd->message_type(i), f, nullptr, &f->messages[i]);

    f->enum_count = static_cast<size_t>(fd->enum_type_count());
    f->enums = store_.Array<cps_enum>(f->enum_count);
    for (int i = 0; i < fd->enum_type_count(); i++)
      LowerEnum(fd->enum_type(i), f, nullptr, &f->enums[i]);

    f->extension_count = static_cast<size_t>(fd->extension_count());
    f->extensions = store_.Array<cps_field>(f->extension_count);
    for (int i = 0; i < fd->extension_count(); i++)
      LowerField(fd->extension(i), f, nullptr, i, &f->extensions[i]);

    f->service_count = static_cast<size_t>(fd->service_count());
    f->services = store_.Array<cps_service>(f->service_count);
    for (int i = 0; i < fd->service_count(); i++)
      LowerService(fd->service(i), f, &f->services[i]);

    // The embedded descriptor of an editions file (or of a proto3 file
    // built as proto2) is the file as the compiler gave it, not the proto2
    // lowering.
    pb::FileDescriptorProto proto;
    if (info.editions) {
      proto = info.original;  // without source code info
    } else {
      fd->CopyTo(&proto);  // CopyTo leaves out source code info
      if (info.lowered) {  // a proto3 file built as proto2: proto3 again
        proto.set_syntax("proto3");
        for (pb::DescriptorProto &m : *proto.mutable_message_type())
          RestoreProto3Optional(&m, proto.package().empty() ? m.name()
                                                            : proto.package() + "." + m.name());
      }
    }
    for (pb::DescriptorProto &m : *proto.mutable_message_type()) StripDefaultJsonNames(&m);
    for (pb::FieldDescriptorProto &x : *proto.mutable_extension()) StripDefaultJsonNames(&x);
    std::string bytes = CanonicalBytes(fd, proto);
    uint8_t *desc = store_.Array<uint8_t>(bytes.size());
    if (!bytes.empty()) std::memcpy(desc, bytes.data(), bytes.size());
    f->descriptor = desc;
    f->descriptor_size = bytes.size();
    return f;
  }

  // The proto3_optional flags 3.21 did not keep for a proto3 file built as
  // proto2.
  void RestoreProto3Optional(pb::DescriptorProto *m, const std::string &full) {
    for (pb::FieldDescriptorProto &f : *m->mutable_field()) {
      if (features_.Proto3Optional(full + "." + f.name())) f.set_proto3_optional(true);
    }
    for (pb::DescriptorProto &n : *m->mutable_nested_type())
      RestoreProto3Optional(&n, full + "." + n.name());
  }

  // `proto` serialized with its custom options (extensions of the *Options
  // messages that the pool knows, such as google.api.http) written in field
  // number order. They are unknown fields to the generated descriptor
  // classes, kept as the compiler wrote them, and compilers differ: buf
  // writes a HttpRule's oneof member after body. Read back as a dynamic
  // message of the pool's descriptor.proto, whose extensions are known, the
  // bytes are the same whichever compiler made them.
  static std::string CanonicalBytes(const pb::FileDescriptor *fd,
                                    const pb::FileDescriptorProto &proto) {
    std::string bytes;
    if (!proto.SerializeToString(&bytes))
      throw LoadError(fd->name() + ": cannot serialize its FileDescriptorProto");
    const pb::DescriptorPool *pool = fd->pool();
    const pb::Descriptor *type = pool->FindMessageTypeByName("google.protobuf.FileDescriptorProto");
    if (type == nullptr) return bytes;  // then no option of the pool's files is custom
    pb::DynamicMessageFactory factory(pool);
    std::unique_ptr<pb::Message> msg(factory.GetPrototype(type)->New());
    pb::io::CodedInputStream in(reinterpret_cast<const uint8_t *>(bytes.data()),
                                static_cast<int>(bytes.size()));
    in.SetExtensionRegistry(pool, &factory);
    if (!msg->MergePartialFromCodedStream(&in) || !in.ConsumedEntireMessage())
      throw LoadError(fd->name() + ": cannot read back its FileDescriptorProto");
    std::string out;
    if (!msg->SerializePartialToString(&out))
      throw LoadError(fd->name() + ": cannot serialize its FileDescriptorProto");
    return out;
  }

  void LowerMessage(const pb::Descriptor *d, const cps_file *f, const cps_message *parent,
                    cps_message *m) {
    messages_[d] = m;
    m->name = store_.Str(d->name());
    m->full_name = store_.Str(d->full_name());
    m->file = f;
    m->parent = parent;
    m->map_entry = d->options().map_entry();
    m->message_set_wire_format = d->options().message_set_wire_format();
    m->deprecated = d->options().deprecated();
    m->features = features_.Of('m', d->full_name());
    FillLoc(d, f, &m->loc);

    m->field_count = static_cast<size_t>(d->field_count());
    m->fields = store_.Array<cps_field>(m->field_count);
    for (int i = 0; i < d->field_count(); i++) LowerField(d->field(i), f, m, i, &m->fields[i]);

    // descriptor.cc rejects synthetic oneofs before real ones, so declaration
    // order already puts them last.
    m->oneof_count = static_cast<size_t>(d->oneof_decl_count());
    m->real_oneof_count = static_cast<size_t>(d->real_oneof_decl_count());
    for (int i = 0; i < d->oneof_decl_count(); i++) {
      // A proto3 file built as proto2: 3.21 took its synthetic oneofs for
      // real ones.
      if (features_.Synthetic(d->oneof_decl(i)->full_name())) m->real_oneof_count--;
    }
    m->oneofs = store_.Array<cps_oneof>(m->oneof_count);
    for (int i = 0; i < d->oneof_decl_count(); i++) {
      const pb::OneofDescriptor *od = d->oneof_decl(i);
      cps_oneof *o = &m->oneofs[i];
      o->name = store_.Str(od->name());
      o->full_name = store_.Str(od->full_name());
      o->parent = m;
      o->index = i;
      o->synthetic = od->is_synthetic() || features_.Synthetic(od->full_name());
      o->features = features_.Of('o', od->full_name());
      o->field_count = static_cast<size_t>(od->field_count());
      const cps_field **of = store_.Array<const cps_field *>(o->field_count);
      for (int j = 0; j < od->field_count(); j++) {
        cps_field *cf = &m->fields[od->field(j)->index()];
        cf->oneof = o;
        of[j] = cf;
      }
      o->fields = of;
      FillLoc(od, f, &o->loc);
    }

    m->nested_count = static_cast<size_t>(d->nested_type_count());
    m->nested = store_.Array<cps_message>(m->nested_count);
    for (int i = 0; i < d->nested_type_count(); i++)
      LowerMessage(d->nested_type(i), f, m, &m->nested[i]);

    m->enum_count = static_cast<size_t>(d->enum_type_count());
    m->enums = store_.Array<cps_enum>(m->enum_count);
    for (int i = 0; i < d->enum_type_count(); i++)
      LowerEnum(d->enum_type(i), f, m, &m->enums[i]);

    m->extension_count = static_cast<size_t>(d->extension_count());
    m->extensions = store_.Array<cps_field>(m->extension_count);
    for (int i = 0; i < d->extension_count(); i++)
      LowerField(d->extension(i), f, m, i, &m->extensions[i]);

    m->extension_range_count = static_cast<size_t>(d->extension_range_count());
    m->extension_ranges = store_.Array<cps_range>(m->extension_range_count);
    for (int i = 0; i < d->extension_range_count(); i++) {
      m->extension_ranges[i] = Inclusive(d, "extension range", d->extension_range(i)->start,
                                         d->extension_range(i)->end);
    }
    m->reserved_range_count = static_cast<size_t>(d->reserved_range_count());
    m->reserved_ranges = store_.Array<cps_range>(m->reserved_range_count);
    for (int i = 0; i < d->reserved_range_count(); i++) {
      m->reserved_ranges[i] = Inclusive(d, "reserved range", d->reserved_range(i)->start,
                                        d->reserved_range(i)->end);
    }
    m->reserved_name_count = static_cast<size_t>(d->reserved_name_count());
    m->reserved_names = ReservedNames(d);
  }

  // A message's range [start, end) as the model's inclusive one. libprotobuf
  // 3.21 checks only that a reserved range starts above 0, so a hand-made
  // descriptor can give an end at or below the start (even INT_MIN).
  static cps_range Inclusive(const pb::Descriptor *d, const char *what, int start, int end) {
    if (end <= start) {
      throw LoadError(d->full_name() + ": " + what + " from " + std::to_string(start) +
                      " to " + std::to_string(end) + " (exclusive) is empty");
    }
    return cps_range{start, end - 1};
  }

  void LowerEnum(const pb::EnumDescriptor *ed, const cps_file *f, const cps_message *parent,
                 cps_enum *e) {
    enums_[ed] = e;
    e->name = store_.Str(ed->name());
    e->full_name = store_.Str(ed->full_name());
    e->file = f;
    e->parent = parent;
    // libprotobuf 3.21 has no EnumDescriptor::is_closed(): the resolved
    // enum_type says (CLOSED exactly for proto2 files' enums before editions).
    e->features = features_.Of('e', ed->full_name());
    e->closed = e->features.enum_type == CPS_ENUM_CLOSED;
    e->allow_alias = ed->options().allow_alias();
    e->deprecated = ed->options().deprecated();
    FillLoc(ed, f, &e->loc);

    e->value_count = static_cast<size_t>(ed->value_count());
    e->values = store_.Array<cps_enum_value>(e->value_count);
    for (int i = 0; i < ed->value_count(); i++) {
      const pb::EnumValueDescriptor *vd = ed->value(i);
      cps_enum_value *v = &e->values[i];
      values_[vd] = v;
      v->name = store_.Str(vd->name());
      v->full_name = store_.Str(vd->full_name());
      v->number = vd->number();
      v->index = i;
      v->parent = e;
      v->deprecated = vd->options().deprecated();
      v->features = features_.Of('v', vd->full_name());
      FillLoc(vd, f, &v->loc);
    }

    e->reserved_range_count = static_cast<size_t>(ed->reserved_range_count());
    e->reserved_ranges = store_.Array<cps_range>(e->reserved_range_count);
    for (int i = 0; i < ed->reserved_range_count(); i++) {
      e->reserved_ranges[i].start = ed->reserved_range(i)->start;  // already inclusive
      e->reserved_ranges[i].end = ed->reserved_range(i)->end;
    }
    e->reserved_name_count = static_cast<size_t>(ed->reserved_name_count());
    e->reserved_names = ReservedNames(ed);
  }

  void LowerField(const pb::FieldDescriptor *fd, const cps_file *f, const cps_message *parent,
                  int index, cps_field *cf) {
    cf->name = store_.Str(fd->name());
    cf->full_name = store_.Str(fd->full_name());
    cf->json_name = store_.Str(fd->json_name());
    // protoc writes json_name into every field of a CodeGeneratorRequest, so
    // FieldDescriptor::has_json_name() cannot tell an explicit option there.
    // To give the same answer for every loader, only a json_name that differs
    // from the derived one counts as an option.
    cf->has_json_name_option = fd->has_json_name() && fd->json_name() != DefaultJsonName(fd->name());
    cf->number = fd->number();
    cf->label = static_cast<cps_label>(fd->label());
    cf->type = static_cast<cps_type>(fd->type());
    cf->parent = parent;
    cf->file = f;
    cf->index = index;
    const pb::OneofDescriptor *oneof = fd->containing_oneof();
    cf->proto3_optional = (oneof != nullptr && oneof->is_synthetic()) ||
                          features_.Proto3Optional(fd->full_name());
    // What the resolved features mean for the field, as descriptor.cc's
    // has_presence(), is_packed() and requires_utf8_validation() say (for
    // proto2 and proto3 the same as 3.21's answers; editions files were
    // built by 3.21 as proto2, so its answers do not count).
    cf->features = features_.Of('f', fd->full_name());
    const bool repeated = fd->is_repeated();
    cf->has_presence = !repeated && (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE ||
                                     fd->is_extension() || fd->containing_oneof() != nullptr ||
                                     cf->features.field_presence != CPS_PRESENCE_IMPLICIT);
    cf->packed = repeated && fd->is_packable() &&
                 cf->features.repeated_field_encoding == CPS_REPEATED_PACKED;
    cf->utf8_validate = fd->type() == pb::FieldDescriptor::TYPE_STRING &&
                        cf->features.utf8_validation == CPS_UTF8_VERIFY;
    cf->is_map = fd->is_map();
    cf->is_extension = fd->is_extension();
    cf->deprecated = fd->options().deprecated();
    FillLoc(fd, f, &cf->loc);

    if (fd->has_default_value()) {
      cps_default *dv = &cf->default_value;
      dv->present = true;
      switch (fd->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_INT32: dv->i64 = fd->default_value_int32(); break;
        case pb::FieldDescriptor::CPPTYPE_INT64: dv->i64 = fd->default_value_int64(); break;
        case pb::FieldDescriptor::CPPTYPE_UINT32: dv->u64 = fd->default_value_uint32(); break;
        case pb::FieldDescriptor::CPPTYPE_UINT64: dv->u64 = fd->default_value_uint64(); break;
        case pb::FieldDescriptor::CPPTYPE_DOUBLE: dv->f64 = fd->default_value_double(); break;
        case pb::FieldDescriptor::CPPTYPE_FLOAT: dv->f64 = fd->default_value_float(); break;
        case pb::FieldDescriptor::CPPTYPE_BOOL: dv->b = fd->default_value_bool(); break;
        case pb::FieldDescriptor::CPPTYPE_STRING: {
          const std::string &s = fd->default_value_string();
          dv->bytes = store_.Bytes(s);
          dv->bytes_size = s.size();
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_ENUM:  // linked later
        case pb::FieldDescriptor::CPPTYPE_MESSAGE: break;
      }
      pb::FieldDescriptorProto proto;
      fd->CopyTo(&proto);
      // A string default may hold NUL bytes (written "\0" in the .proto);
      // its text is then C-escaped so that none of it is lost.
      const std::string &text = proto.default_value();
      dv->text = store_.Str(text.find('\0') == std::string::npos ? text : pb::CEscape(text));
    }
    field_links_.emplace_back(cf, fd);
  }

  void LowerService(const pb::ServiceDescriptor *sd, const cps_file *f, cps_service *s) {
    s->name = store_.Str(sd->name());
    s->full_name = store_.Str(sd->full_name());
    s->file = f;
    s->deprecated = sd->options().deprecated();
    FillLoc(sd, f, &s->loc);
    s->method_count = static_cast<size_t>(sd->method_count());
    s->methods = store_.Array<cps_method>(s->method_count);
    for (int i = 0; i < sd->method_count(); i++) {
      const pb::MethodDescriptor *md = sd->method(i);
      cps_method *m = &s->methods[i];
      m->name = store_.Str(md->name());
      m->full_name = store_.Str(md->full_name());
      m->parent = s;
      m->client_streaming = md->client_streaming();
      m->server_streaming = md->server_streaming();
      m->deprecated = md->options().deprecated();
      m->idempotency_level = static_cast<int>(md->options().idempotency_level());
      FillLoc(md, f, &m->loc);
      LowerHttp(md, f, m);
      method_links_.emplace_back(m, md);
    }
  }

  // The google.api.http option of a method. A pool that knows the
  // extension (the file imports google/api/annotations.proto, directly or
  // not) keeps its value among MethodOptions' unknown fields, as the
  // generated MethodOptions class has no such extension: libprotobuf reads
  // those bytes into a dynamic HttpRule of the same pool.
  void LowerHttp(const pb::MethodDescriptor *md, const cps_file *f, cps_method *m) {
    const pb::FieldDescriptor *ext = md->file()->pool()->FindExtensionByName("google.api.http");
    if (ext == nullptr || ext->number() != kHttpExtension || ext->message_type() == nullptr ||
        ext->containing_type()->full_name() != "google.protobuf.MethodOptions" ||
        ext->is_repeated())
      return;
    const pb::Message &opts = md->options();
    const pb::UnknownFieldSet &unknown = opts.GetReflection()->GetUnknownFields(opts);
    std::string bytes;  // several occurrences of a message field merge
    bool found = false;
    for (int i = 0; i < unknown.field_count(); i++) {
      const pb::UnknownField &u = unknown.field(i);
      if (u.number() != kHttpExtension) continue;
      if (u.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED)
        throw LoadError(md->full_name() + ": option google.api.http has the wrong wire type");
      bytes += u.length_delimited();
      found = true;
    }
    if (!found) return;
    pb::DynamicMessageFactory factory(md->file()->pool());
    std::unique_ptr<pb::Message> rule(factory.GetPrototype(ext->message_type())->New());
    if (!rule->ParseFromString(bytes))
      throw LoadError(md->full_name() + ": option google.api.http does not parse as " +
                      ext->message_type()->full_name());
    cps_loc loc;
    FillPathLoc(md->file(),
                {pb::FileDescriptorProto::kServiceFieldNumber, md->service()->index(),
                 pb::ServiceDescriptorProto::kMethodFieldNumber, md->index(),
                 pb::MethodDescriptorProto::kOptionsFieldNumber, kHttpExtension},
                f, &loc);
    if (loc.line == 0) loc = m->loc;
    loc.leading_comments = loc.trailing_comments = nullptr;
    cps_http_rule *out = store_.One<cps_http_rule>();
    LowerHttpRule(*rule, loc, out);
    m->http = out;
  }

  // A string field of a dynamic message, "" when the message type lacks it.
  static std::string StringField(const pb::Message &msg, const char *name) {
    const pb::FieldDescriptor *fd = msg.GetDescriptor()->FindFieldByName(name);
    if (fd == nullptr || fd->is_repeated() || fd->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING)
      return std::string();
    return msg.GetReflection()->GetString(msg, fd);
  }

  static bool HasField(const pb::Message &msg, const char *name) {
    const pb::FieldDescriptor *fd = msg.GetDescriptor()->FindFieldByName(name);
    return fd != nullptr && !fd->is_repeated() && msg.GetReflection()->HasField(msg, fd);
  }

  void LowerHttpRule(const pb::Message &rule, const cps_loc &loc, cps_http_rule *out) {
    static const char *const kVerbs[][2] = {
        {"get", "GET"}, {"put", "PUT"}, {"post", "POST"}, {"delete", "DELETE"}, {"patch", "PATCH"}};
    out->loc = loc;
    for (const auto &v : kVerbs) {
      if (HasField(rule, v[0])) {
        out->verb = v[1];
        out->path = store_.StrOrNull(StringField(rule, v[0]));
      }
    }
    const pb::Reflection *r = rule.GetReflection();
    const pb::FieldDescriptor *custom = rule.GetDescriptor()->FindFieldByName("custom");
    if (custom != nullptr && custom->message_type() != nullptr && !custom->is_repeated() &&
        r->HasField(rule, custom)) {
      const pb::Message &c = r->GetMessage(rule, custom);
      out->custom = true;
      out->verb = store_.Str(StringField(c, "kind"));
      out->path = store_.StrOrNull(StringField(c, "path"));
    }
    out->body = store_.StrOrNull(StringField(rule, "body"));
    out->response_body = store_.StrOrNull(StringField(rule, "response_body"));
    const pb::FieldDescriptor *more = rule.GetDescriptor()->FindFieldByName("additional_bindings");
    if (more == nullptr || !more->is_repeated() || more->message_type() == nullptr) return;
    out->additional_count = static_cast<size_t>(r->FieldSize(rule, more));
    out->additional = store_.Array<cps_http_rule>(out->additional_count);
    for (int i = 0; i < r->FieldSize(rule, more); i++)
      LowerHttpRule(r->GetRepeatedMessage(rule, more, i), loc, &out->additional[i]);
  }

  void Link() {
    for (auto &fl : file_links_) {
      for (int j = 0; j < fl.second->dependency_count(); j++)
        fl.first->deps[j] = Find(files_, fl.second->dependency(j));
    }
    for (auto &fl : field_links_) {
      cps_field *cf = fl.first;
      const pb::FieldDescriptor *fd = fl.second;
      if (fd->message_type() != nullptr) cf->message_type = Find(messages_, fd->message_type());
      if (fd->enum_type() != nullptr) cf->enum_type = Find(enums_, fd->enum_type());
      if (fd->is_extension()) cf->extendee = Find(messages_, fd->containing_type());
      if (fd->has_default_value() && fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM)
        cf->default_value.enum_value = Find(values_, fd->default_value_enum());
    }
    for (auto &ml : method_links_) {
      ml.first->input = Find(messages_, ml.second->input_type());
      ml.first->output = Find(messages_, ml.second->output_type());
    }
  }

  cps_schema &schema_;
  Store store_;
  cpe::Resolver &features_;
  std::unordered_map<const pb::FileDescriptor *, cps_file *> files_;
  std::unordered_map<const pb::Descriptor *, cps_message *> messages_;
  std::unordered_map<const pb::EnumDescriptor *, cps_enum *> enums_;
  std::unordered_map<const pb::EnumValueDescriptor *, cps_enum_value *> values_;
  std::vector<std::pair<cps_file *, const pb::FileDescriptor *>> file_links_;
  std::vector<std::pair<cps_field *, const pb::FieldDescriptor *>> field_links_;
  std::vector<std::pair<cps_method *, const pb::MethodDescriptor *>> method_links_;
};

// Appends `fd` after its transitive dependencies (post-order DFS).
void AddInDependencyOrder(const pb::FileDescriptor *fd,
                          std::unordered_set<const pb::FileDescriptor *> *seen,
                          std::vector<const pb::FileDescriptor *> *out) {
  if (!seen->insert(fd).second) return;
  for (int i = 0; i < fd->dependency_count(); i++) AddInDependencyOrder(fd->dependency(i), seen, out);
  out->push_back(fd);
}

cps_schema *Build(cps_pool *mem, cpe::Resolver *features,
                  const std::vector<const pb::FileDescriptor *> &roots,
                  const std::vector<const pb::FileDescriptor *> &to_generate,
                  const std::string &parameter, const int version[3]) {
  std::unordered_set<const pb::FileDescriptor *> seen;
  std::vector<const pb::FileDescriptor *> files;
  for (const pb::FileDescriptor *fd : roots) AddInDependencyOrder(fd, &seen, &files);
  Store store(mem);
  cps_schema *schema = store.One<cps_schema>();
  schema->parameter = store.Str(parameter);
  for (int i = 0; i < 3; i++) schema->compiler_version[i] = version[i];
  Lowerer(schema, mem, features).Lower(files, to_generate);
  return schema;
}

void SetError(cps_pool *mem, char **err, const std::string &msg) {
  if (err != nullptr) *err = cps_pool_strndup(mem, msg.data(), msg.size());
}

// Runs `body`, turning every exception into a NULL result and an error.
// libprotobuf's own log lines (e.g. about invalid UTF-8 in a descriptor) are
// silenced: problems reach the caller through `err` only. What a failed
// load had allocated stays in `mem` until it is freed.
template <typename F>
cps_schema *Guarded(cps_pool *mem, char **err, F body) {
  if (err != nullptr) *err = nullptr;
  try {
    pb::LogSilencer quiet;
    return body();
  } catch (const LoadError &e) {
    SetError(mem, err, e.what());
  } catch (const cpe::Error &e) {
    SetError(mem, err, e.what());
  } catch (const std::bad_alloc &) {
    SetError(mem, err, "out of memory");
  } catch (const std::exception &e) {
    SetError(mem, err, std::string("internal error: ") + e.what());
  } catch (...) {
    SetError(mem, err, "internal error: unknown exception");
  }
  return nullptr;
}

// Collects DescriptorPool build errors; these carry no line numbers.
class PoolErrors : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string &filename, const std::string &element_name,
                const pb::Message *, ErrorLocation, const std::string &message) override {
    if (!text.empty()) text += '\n';
    text += filename + ": ";
    if (!element_name.empty() && element_name != filename) text += element_name + ": ";
    text += message;
  }
  std::string text;
};

// Adds the FileDescriptorProtos to `pool`, each after its dependencies,
// whatever their order. A missing google/protobuf/*.proto dependency is taken
// from the copy compiled into libprotobuf. Each file's features are resolved
// first, and an editions file is lowered into the proto2 file 3.21 builds.
class ProtoSetBuilder {
 public:
  ProtoSetBuilder(pb::DescriptorPool *pool, cpe::Resolver *features)
      : pool_(pool), features_(features) {}

  void Add(const pb::FileDescriptorProto &proto) {
    if (!by_name_.emplace(proto.name(), &proto).second)
      throw LoadError(proto.name() + ": file appears twice");
  }

  const pb::FileDescriptor *Build(const std::string &name, const std::string &importer) {
    if (const pb::FileDescriptor *fd = pool_->FindFileByName(name)) return fd;
    auto it = by_name_.find(name);
    const pb::FileDescriptorProto *proto = it == by_name_.end() ? nullptr : it->second;
    pb::FileDescriptorProto builtin;
    if (proto == nullptr) {
      const pb::FileDescriptor *gen = nullptr;
      if (name.compare(0, 16, "google/protobuf/") == 0)
        gen = pb::DescriptorPool::generated_pool()->FindFileByName(name);
      if (gen == nullptr) {
        if (importer.empty()) throw LoadError(name + ": file not found");
        throw LoadError(importer + ": import \"" + name + "\" was not found");
      }
      gen->CopyTo(&builtin);
      proto = &builtin;
    }
    if (!building_.insert(name).second)
      throw LoadError(name + ": import cycle through \"" + importer + "\"");
    for (const std::string &dep : proto->dependency()) Build(dep, name);
    building_.erase(name);
    pb::FileDescriptorProto lowered;
    const pb::FileDescriptorProto &to_build = features_->Resolve(*proto, &lowered);
    PoolErrors errors;
    const pb::FileDescriptor *fd = pool_->BuildFileCollectingErrors(to_build, &errors);
    if (fd == nullptr) throw LoadError(errors.text.empty() ? name + ": invalid file" : errors.text);
    return fd;
  }

 private:
  pb::DescriptorPool *pool_;
  cpe::Resolver *features_;
  std::unordered_map<std::string, const pb::FileDescriptorProto *> by_name_;
  std::unordered_set<std::string> building_;
};

// Collects Importer errors as `file.proto:line:col: message`.
class ImportErrors : public pbc::MultiFileErrorCollector {
 public:
  void AddError(const std::string &filename, int line, int column,
                const std::string &message) override {
    std::string e = filename;
    if (line >= 0) e += ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1);
    errors.emplace_back(filename, e + ": " + message);
  }

  bool empty() const { return errors.empty(); }

  std::string Text() const {
    std::string text;
    for (const auto &e : errors) text += (text.empty() ? "" : "\n") + e.second;
    return text;
  }

  // libprotoc 3.21's parser reads an editions file as a string of syntax
  // errors: for a file with an `edition = "...";` statement, one error
  // that says what it is instead.
  void ExplainEditions(pbc::DiskSourceTree *tree) {
    std::vector<std::pair<std::string, std::string>> out;
    std::unordered_set<std::string> explained;
    for (const auto &e : errors) {
      if (explained.count(e.first)) continue;
      int line = EditionLine(tree, e.first);
      if (line == 0) {
        out.push_back(e);
        continue;
      }
      explained.insert(e.first);
      out.emplace_back(e.first, e.first + ":" + std::to_string(line) +
                                    ":1: an editions file (`edition = ...`), which libprotoc "
                                    "3.21 cannot parse: compile it with a current compiler "
                                    "(e.g. buf) and use its FileDescriptorSet (buf build -o "
                                    "set.binpb) or run protoc-gen-cpay from it");
    }
    errors.swap(out);
  }

 private:
  // The line (1-based) of a file's `edition` statement, 0 when none.
  static int EditionLine(pbc::DiskSourceTree *tree, const std::string &file) {
    std::unique_ptr<pb::io::ZeroCopyInputStream> in(tree->Open(file));
    if (in == nullptr) return 0;
    std::string text;
    const void *data;
    int size;
    while (text.size() < (1u << 20) && in->Next(&data, &size))
      text.append(static_cast<const char *>(data), static_cast<size_t>(size));
    int line = 1;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) i++;
      if (text.compare(i, 7, "edition") == 0) {
        size_t j = i + 7;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) j++;
        if (j < text.size() && text[j] == '=') return line;
      }
      size_t nl = text.find('\n', i);
      if (nl == std::string::npos) break;
      i = nl + 1;
      line++;
    }
    return 0;
  }

  std::vector<std::pair<std::string, std::string>> errors;  // file, message
};

bool ExistsOnDisk(const std::string &path) { return access(path.c_str(), F_OK) == 0; }

// The canonical absolute form of an existing path (the path itself when it
// cannot be resolved). Include dirs and input files are both resolved, so a
// file given relative to the working directory, or through a symlink, still
// maps to its include dir.
std::string RealPath(const std::string &path) {
  char *real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return path;
  std::string out(real);
  std::free(real);
  return out;
}

}  // namespace

extern "C" {

cps_schema *cps_load_request(cps_pool *mem, const void *data, size_t size, char **err) {
  return Guarded(mem, err, [&]() -> cps_schema * {
    if (size > static_cast<size_t>(INT_MAX)) throw LoadError("CodeGeneratorRequest too large");
    pbc::CodeGeneratorRequest req;
    if (!req.ParsePartialFromArray(data, static_cast<int>(size)))
      throw LoadError("malformed CodeGeneratorRequest");
    if (!req.IsInitialized())
      throw LoadError("malformed CodeGeneratorRequest: missing " + req.InitializationErrorString());
    pb::DescriptorPool pool;
    cpe::Resolver features;
    ProtoSetBuilder builder(&pool, &features);
    for (const pb::FileDescriptorProto &p : req.proto_file()) builder.Add(p);
    std::vector<const pb::FileDescriptor *> roots;
    for (const pb::FileDescriptorProto &p : req.proto_file()) roots.push_back(builder.Build(p.name(), ""));
    std::vector<const pb::FileDescriptor *> gen;
    for (const std::string &name : req.file_to_generate()) {
      const pb::FileDescriptor *fd = pool.FindFileByName(name);
      if (fd == nullptr) throw LoadError(name + ": file to generate is not in the request");
      gen.push_back(fd);
    }
    int version[3] = {0, 0, 0};
    if (req.has_compiler_version()) {
      version[0] = req.compiler_version().major();
      version[1] = req.compiler_version().minor();
      version[2] = req.compiler_version().patch();
    }
    return Build(mem, &features, roots, gen, req.parameter(), version);
  });
}

cps_schema *cps_load_descriptor_set(cps_pool *mem, const void *data, size_t size, char **err) {
  return Guarded(mem, err, [&]() -> cps_schema * {
    if (size > static_cast<size_t>(INT_MAX)) throw LoadError("FileDescriptorSet too large");
    pb::FileDescriptorSet set;
    if (!set.ParsePartialFromArray(data, static_cast<int>(size)))
      throw LoadError("malformed FileDescriptorSet");
    if (!set.IsInitialized())
      throw LoadError("malformed FileDescriptorSet: missing " + set.InitializationErrorString());
    pb::DescriptorPool pool;
    cpe::Resolver features;
    ProtoSetBuilder builder(&pool, &features);
    for (const pb::FileDescriptorProto &p : set.file()) builder.Add(p);
    std::vector<const pb::FileDescriptor *> roots;
    for (const pb::FileDescriptorProto &p : set.file()) roots.push_back(builder.Build(p.name(), ""));
    // Files pulled in from libprotobuf's builtin copies are not in the set,
    // so they are lowered (as dependencies) but not generated.
    const int version[3] = {0, 0, 0};
    return Build(mem, &features, roots, roots, "", version);
  });
}

cps_schema *cps_load_protos(cps_pool *mem, const char *const *include_dirs, size_t include_count,
                            const char *const *files, size_t file_count, char **err) {
  return Guarded(mem, err, [&]() -> cps_schema * {
    pbc::DiskSourceTree tree;
    for (size_t i = 0; i < include_count; i++) tree.MapPath("", RealPath(include_dirs[i]));
    if (include_count == 0) tree.MapPath("", RealPath("."));  // as protoc does without -I
    // The well-known types, when no include dir provides them.
    tree.MapPath("google/protobuf", CPAY_WKT_INCLUDE_DIR "/google/protobuf");

    // Each file is a virtual path (relative to an include dir) or a path on
    // disk under one; protoc tries the disk path first.
    std::vector<std::string> names;
    std::string problems;
    for (size_t i = 0; i < file_count; i++) {
      std::string file = files[i], virtual_file, shadow, disk;
      if (ExistsOnDisk(file)) {
        switch (tree.DiskFileToVirtualFile(RealPath(file), &virtual_file, &shadow)) {
          case pbc::DiskSourceTree::SUCCESS:
            names.push_back(virtual_file);
            continue;
          case pbc::DiskSourceTree::SHADOWED:
            problems += (problems.empty() ? "" : "\n") + file + ": input is shadowed by \"" +
                        shadow + "\" in the include path";
            continue;
          case pbc::DiskSourceTree::CANNOT_OPEN:
          case pbc::DiskSourceTree::NO_MAPPING:
            break;
        }
        if (!tree.VirtualFileToDiskFile(file, &disk)) {
          problems += (problems.empty() ? "" : "\n") + file +
                      ": file does not reside within any include dir";
          continue;
        }
      }
      names.push_back(file);
    }
    if (!problems.empty()) throw LoadError(problems);

    ImportErrors errors;
    pbc::Importer importer(&tree, &errors);
    std::vector<const pb::FileDescriptor *> roots;
    for (const std::string &name : names) {
      const pb::FileDescriptor *fd = importer.Import(name);
      if (fd == nullptr && errors.empty()) errors.AddError(name, -1, 0, "import failed");
      if (fd != nullptr) roots.push_back(fd);
    }
    if (!errors.empty()) {
      errors.ExplainEditions(&tree);
      throw LoadError(errors.Text());
    }
    const int version[3] = {0, 0, 0};
    cpe::Resolver features;
    return Build(mem, &features, roots, roots, "", version);
  });
}

bool cps_encode_response(cps_pool *mem, const char *error, const cps_out_file *files, size_t count,
                         uint8_t **out, size_t *out_size) {
  *out = nullptr;
  *out_size = 0;
  try {
    pbc::CodeGeneratorResponse resp;
    if (error != nullptr) resp.set_error(error);
    // FEATURE_SUPPORTS_EDITIONS (2) and the editions supported,
    // minimum_edition (3) and maximum_edition (4), are newer than 3.21's
    // plugin.proto: written as unknown fields, after the known ones.
    resp.set_supported_features(pbc::CodeGeneratorResponse::FEATURE_PROTO3_OPTIONAL | 2);
    pb::UnknownFieldSet *more = resp.GetReflection()->MutableUnknownFields(&resp);
    more->AddVarint(3, cpe::kMinimumEdition);
    more->AddVarint(4, cpe::kMaximumEdition);
    for (size_t i = 0; i < count; i++) {
      pbc::CodeGeneratorResponse::File *f = resp.add_file();
      f->set_name(files[i].name);
      f->set_content(std::string(files[i].content, files[i].size));
    }
    std::string bytes;
    if (!resp.SerializeToString(&bytes)) return false;
    uint8_t *buf = static_cast<uint8_t *>(cps_pool_alloc(mem, bytes.size()));
    if (!bytes.empty()) std::memcpy(buf, bytes.data(), bytes.size());
    *out = buf;
    *out_size = bytes.size();
    return true;
  } catch (...) {
    return false;
  }
}

}  // extern "C"
