// Feature resolution and the lowering of editions files (see editions.h and
// docs/design.md, "Editions"). Written from protobuf v36's descriptor.proto,
// feature_resolver.cc and descriptor.cc (the rules, not their code).
#include "schema/editions.h"

#include <google/protobuf/unknown_field_set.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace cpay_editions {

std::string Printable(const std::string &s, bool keep_newlines) {
  std::string out;
  for (unsigned char c : s) {
    if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

namespace pb = google::protobuf;

// Options.features field numbers.
constexpr int kFileFeatures = 50;
constexpr int kExtensionRangeFeatures = 50;
constexpr int kMessageFeatures = 12;
constexpr int kFieldFeatures = 21;
constexpr int kOneofFeatures = 1;
constexpr int kEnumFeatures = 7;
constexpr int kEnumValueFeatures = 2;
constexpr int kServiceFeatures = 34;
constexpr int kMethodFeatures = 35;
// FileDescriptorProto.edition.
constexpr int kFileEdition = 14;

// FieldOptions.OptionTargetType.
enum Target {
  kTargetFile = 1,
  kTargetExtensionRange = 2,
  kTargetMessage = 3,
  kTargetField = 4,
  kTargetOneof = 5,
  kTargetEnum = 6,
  kTargetEnumEntry = 7,
  kTargetService = 8,
  kTargetMethod = 9,
};

const char *TargetName(int target) {
  switch (target) {
    case kTargetFile: return "file";
    case kTargetExtensionRange: return "extension range";
    case kTargetMessage: return "message";
    case kTargetField: return "field";
    case kTargetOneof: return "oneof";
    case kTargetEnum: return "enum";
    case kTargetEnumEntry: return "enum entry";
    case kTargetService: return "service";
    case kTargetMethod: return "method";
  }
  return "?";
}

// FeatureSet's fields 1..9 as descriptor.proto (v36) declares them: name,
// largest value, the targets it may be set on, the edition it came in.
struct FeatureSpec {
  const char *name;
  int max;
  unsigned targets;  // bit (1 << Target)
  int introduced;
};

constexpr unsigned Bit(int t) { return 1u << t; }

constexpr int kFeatureCount = 9;
const FeatureSpec kFeatures[kFeatureCount + 1] = {
    {nullptr, 0, 0, 0},
    {"field_presence", 3, Bit(kTargetField) | Bit(kTargetFile), kEdition2023},
    {"enum_type", 2, Bit(kTargetEnum) | Bit(kTargetFile), kEdition2023},
    {"repeated_field_encoding", 2, Bit(kTargetField) | Bit(kTargetFile), kEdition2023},
    {"utf8_validation", 3, Bit(kTargetField) | Bit(kTargetFile), kEdition2023},
    {"message_encoding", 2, Bit(kTargetField) | Bit(kTargetFile), kEdition2023},
    {"json_format", 2, Bit(kTargetMessage) | Bit(kTargetEnum) | Bit(kTargetFile), kEdition2023},
    {"enforce_naming_style", 3,
     Bit(kTargetFile) | Bit(kTargetExtensionRange) | Bit(kTargetMessage) | Bit(kTargetField) |
         Bit(kTargetOneof) | Bit(kTargetEnum) | Bit(kTargetEnumEntry) | Bit(kTargetService) |
         Bit(kTargetMethod),
     kEdition2024},
    {"default_symbol_visibility", 4, Bit(kTargetFile), kEdition2024},
    {"enforce_proto_limits", 2,
     Bit(kTargetEnum) | Bit(kTargetMessage) | Bit(kTargetField) | Bit(kTargetOneof), 1002},
};

// The resolved value of feature `n` (1..8) in `f`.
uint8_t &Slot(cps_features &f, int n) {
  switch (n) {
    case 1: return f.field_presence;
    case 2: return f.enum_type;
    case 3: return f.repeated_field_encoding;
    case 4: return f.utf8_validation;
    case 5: return f.message_encoding;
    case 6: return f.json_format;
    case 7: return f.enforce_naming_style;
    default: return f.default_symbol_visibility;
  }
}

// The features an element sets itself (0: not set), indexed by field number.
struct Own {
  uint8_t v[kFeatureCount + 1] = {};
  bool any = false;
};

cps_features Merge(const cps_features &parent, const Own &own) {
  cps_features out = parent;
  for (int n = 1; n <= 8; n++) {
    if (own.v[n] != 0) Slot(out, n) = own.v[n];
  }
  return out;
}

[[noreturn]] void Fail(const std::string &where, const std::string &what) {
  throw Error(where + ": " + what);
}

// The last varint of unknown field `number` of `msg`.
bool UnknownVarint(const pb::Message &msg, int number, uint64_t *out) {
  const pb::UnknownFieldSet &u = msg.GetReflection()->GetUnknownFields(msg);
  bool found = false;
  for (int i = 0; i < u.field_count(); i++) {
    if (u.field(i).number() == number && u.field(i).type() == pb::UnknownField::TYPE_VARINT) {
      *out = u.field(i).varint();
      found = true;
    }
  }
  return found;
}

bool Packable(int type) {
  return type != pb::FieldDescriptorProto::TYPE_STRING &&
         type != pb::FieldDescriptorProto::TYPE_GROUP &&
         type != pb::FieldDescriptorProto::TYPE_MESSAGE &&
         type != pb::FieldDescriptorProto::TYPE_BYTES;
}

std::string Join(const std::string &scope, const std::string &name) {
  return scope.empty() ? name : scope + "." + name;
}

}  // namespace

std::string EditionName(int edition) {
  switch (edition) {
    case 0: return "UNKNOWN";
    case kEditionLegacy: return "LEGACY";
    case kEditionProto2: return "proto2";
    case kEditionProto3: return "proto3";
    case kEdition2023: return "2023";
    case kEdition2024: return "2024";
    case 1002: return "2026";
    case 9999: return "UNSTABLE";
    case 1: return "1_TEST_ONLY";
    case 2: return "2_TEST_ONLY";
    case 99997: return "99997_TEST_ONLY";
    case 99998: return "99998_TEST_ONLY";
    case 99999: return "99999_TEST_ONLY";
    case 0x7fffffff: return "MAX";
  }
  return std::to_string(edition) + " (unknown)";
}

cps_features EditionDefaults(int edition) {
  cps_features f{};
  // EDITION_LEGACY (proto2).
  f.field_presence = CPS_PRESENCE_EXPLICIT;
  f.enum_type = CPS_ENUM_CLOSED;
  f.repeated_field_encoding = CPS_REPEATED_EXPANDED;
  f.utf8_validation = CPS_UTF8_NONE;
  f.message_encoding = CPS_MESSAGE_LENGTH_PREFIXED;
  f.json_format = CPS_JSON_LEGACY_BEST_EFFORT;
  f.enforce_naming_style = 2;       // STYLE_LEGACY
  f.default_symbol_visibility = 1;  // EXPORT_ALL
  if (edition >= kEditionProto3) {
    f.field_presence = CPS_PRESENCE_IMPLICIT;
    f.enum_type = CPS_ENUM_OPEN;
    f.repeated_field_encoding = CPS_REPEATED_PACKED;
    f.utf8_validation = CPS_UTF8_VERIFY;
    f.json_format = CPS_JSON_ALLOW;
  }
  if (edition >= kEdition2023) f.field_presence = CPS_PRESENCE_EXPLICIT;
  if (edition >= kEdition2024) {
    f.enforce_naming_style = 1;       // STYLE2024
    f.default_symbol_visibility = 2;  // EXPORT_TOP_LEVEL
  }
  return f;
}

// Resolves (and for an editions file, lowers) one file, in three passes:
// the types it declares (for field type lookups), the features of every
// element but fields, then fields and extensions, which need the closedness
// of enums and the features of their oneofs.
class FileWalker {
 public:
  FileWalker(Resolver *r, pb::FileDescriptorProto *file, int edition, bool editions,
             bool lowered_proto3)
      : r_(*r), file_(*file), edition_(edition), editions_(editions),
        lowered_proto3_(lowered_proto3) {}

  cps_features Run() {
    const std::string &name = file_.name();
    Own own = Parse(file_.options(), kFileFeatures, kTargetFile, name);
    cps_features features = Merge(EditionDefaults(edition_), own);
    if (editions_ && features.field_presence == CPS_PRESENCE_LEGACY_REQUIRED)
      Fail(name, "Required presence can't be specified by default.");
    const std::string &pkg = file_.package();
    for (const pb::DescriptorProto &m : file_.message_type()) IndexMessage(m, Join(pkg, m.name()));
    for (const pb::EnumDescriptorProto &e : file_.enum_type()) IndexEnum(Join(pkg, e.name()));

    for (const pb::DescriptorProto &m : file_.message_type())
      ResolveMessage(m, Join(pkg, m.name()), features);
    for (const pb::EnumDescriptorProto &e : file_.enum_type()) ResolveEnum(e, pkg, features);
    for (const pb::ServiceDescriptorProto &s : file_.service()) {
      // Services and methods have no features that matter to cpay; they
      // are checked all the same.
      std::string sname = Join(pkg, s.name());
      Parse(s.options(), kServiceFeatures, kTargetService, Where(sname));
      for (const pb::MethodDescriptorProto &md : s.method())
        Parse(md.options(), kMethodFeatures, kTargetMethod, Where(Join(sname, md.name())));
    }

    for (pb::DescriptorProto &m : *file_.mutable_message_type())
      ResolveFields(&m, Join(pkg, m.name()));
    for (pb::FieldDescriptorProto &x : *file_.mutable_extension())
      ResolveField(&x, pkg, features, true);
    return features;
  }

 private:
  std::string Where(const std::string &full_name) const { return file_.name() + ": " + full_name; }

  // The features set in `options` (field `number`, a FeatureSet, unknown to
  // libprotobuf 3.21's options classes), checked for `target` and the
  // file's edition.
  Own Parse(const pb::Message &options, int number, int target, const std::string &where) {
    Own own;
    const pb::UnknownFieldSet &u = options.GetReflection()->GetUnknownFields(options);
    std::string bytes;  // several occurrences of a message field merge
    bool found = false;
    for (int i = 0; i < u.field_count(); i++) {
      if (u.field(i).number() != number) continue;
      if (u.field(i).type() != pb::UnknownField::TYPE_LENGTH_DELIMITED)
        Fail(where, "option features has the wrong wire type");
      bytes += u.field(i).length_delimited();
      found = true;
    }
    if (!found) return own;
    pb::UnknownFieldSet set;
    if (!set.ParseFromString(bytes)) Fail(where, "option features does not parse as a FeatureSet");
    for (int i = 0; i < set.field_count(); i++) {
      const pb::UnknownField &f = set.field(i);
      int n = f.number();
      // Extensions (language features such as pb.cpp) and fields newer than
      // v36 drive nothing in cpay.
      if (n < 1 || n > kFeatureCount) continue;
      const FeatureSpec &spec = kFeatures[n];
      std::string fname = std::string("features.") + spec.name;
      if (f.type() != pb::UnknownField::TYPE_VARINT)
        Fail(where, "option " + fname + " has the wrong wire type");
      uint64_t v = f.varint();
      if (v == 0 || v > static_cast<uint64_t>(spec.max) || (n == 4 && v == 1))
        Fail(where, "option " + fname + " has the unknown value " + std::to_string(v));
      if (!(spec.targets & Bit(target)))
        Fail(where, "option " + fname + " cannot be set on an entity of type `" +
                        TargetName(target) + "`");
      if (editions_ && edition_ < spec.introduced)
        Fail(where, fname + " wasn't introduced until edition " + EditionName(spec.introduced) +
                        " and can't be used in edition " + EditionName(edition_));
      own.v[n] = static_cast<uint8_t>(v);
      own.any = true;
    }
    if (own.any && !editions_) Fail(where, "Features are only valid under editions.");
    return own;
  }

  void IndexMessage(const pb::DescriptorProto &m, const std::string &full) {
    Resolver::TypeInfo t;
    t.map_entry = m.options().map_entry();
    for (const pb::FieldDescriptorProto &f : m.field()) {
      if (t.map_entry && (f.number() == 1 || f.number() == 2) &&
          f.type() == pb::FieldDescriptorProto::TYPE_STRING)
        t.string_map = true;
    }
    t.edition = edition_;
    t.file = file_.name();
    r_.types_[full] = t;
    for (const pb::DescriptorProto &n : m.nested_type()) IndexMessage(n, Join(full, n.name()));
    for (const pb::EnumDescriptorProto &e : m.enum_type()) IndexEnum(Join(full, e.name()));
  }

  void IndexEnum(const std::string &full) {
    Resolver::TypeInfo t;
    t.is_enum = true;
    t.edition = edition_;
    t.file = file_.name();
    r_.types_[full] = t;
  }

  void Put(char kind, const std::string &full, const cps_features &f) {
    r_.features_[std::string(1, kind) + full] = f;
  }

  const cps_features &Get(char kind, const std::string &full) const {
    return r_.Of(kind, full);
  }

  void ResolveMessage(const pb::DescriptorProto &m, const std::string &full,
                      const cps_features &parent) {
    cps_features mf = Merge(parent, Parse(m.options(), kMessageFeatures, kTargetMessage, Where(full)));
    Put('m', full, mf);
    for (const pb::OneofDescriptorProto &o : m.oneof_decl()) {
      std::string oname = Join(full, o.name());
      Put('o', oname, Merge(mf, Parse(o.options(), kOneofFeatures, kTargetOneof, Where(oname))));
    }
    for (const pb::DescriptorProto::ExtensionRange &x : m.extension_range()) {
      Parse(x.options(), kExtensionRangeFeatures, kTargetExtensionRange,
            Where(full + " (extension range " + std::to_string(x.start()) + " to " +
                  std::to_string(static_cast<int64_t>(x.end()) - 1) + ")"));
    }
    for (const pb::DescriptorProto &n : m.nested_type()) ResolveMessage(n, Join(full, n.name()), mf);
    for (const pb::EnumDescriptorProto &e : m.enum_type()) ResolveEnum(e, full, mf);
  }

  void ResolveEnum(const pb::EnumDescriptorProto &e, const std::string &scope,
                   const cps_features &parent) {
    std::string full = Join(scope, e.name());
    cps_features ef = Merge(parent, Parse(e.options(), kEnumFeatures, kTargetEnum, Where(full)));
    Put('e', full, ef);
    r_.types_[full].closed = ef.enum_type == CPS_ENUM_CLOSED;
    if ((editions_ || lowered_proto3_) && ef.enum_type == CPS_ENUM_OPEN && e.value_size() > 0 &&
        e.value(0).number() != 0)
      Fail(Where(full), "The first enum value must be zero for open enums.");
    // Enum values are siblings of their enum: scope.VALUE.
    for (const pb::EnumValueDescriptorProto &v : e.value()) {
      std::string vname = Join(scope, v.name());
      Put('v', vname,
          Merge(ef, Parse(v.options(), kEnumValueFeatures, kTargetEnumEntry, Where(vname))));
    }
  }

  void ResolveFields(pb::DescriptorProto *m, const std::string &full) {
    const cps_features &mf = Get('m', full);
    bool map_entry = m->options().map_entry();
    containing_ = m;
    for (pb::FieldDescriptorProto &f : *m->mutable_field()) {
      const cps_features *parent = &mf;
      if (f.has_oneof_index() && f.oneof_index() >= 0 && f.oneof_index() < m->oneof_decl_size())
        parent = &Get('o', Join(full, m->oneof_decl(f.oneof_index()).name()));
      ResolveField(&f, full, *parent, false, map_entry);
    }
    containing_ = nullptr;
    if (editions_ && mf.json_format == CPS_JSON_ALLOW && !map_entry) CheckJsonNames(*m, full);
    for (pb::FieldDescriptorProto &x : *m->mutable_extension())
      ResolveField(&x, full, mf, true);
    for (pb::DescriptorProto &n : *m->mutable_nested_type()) ResolveFields(&n, Join(full, n.name()));
  }

  // json_format = ALLOW: no two fields of a message may share a JSON name,
  // derived or set (descriptor.cc's CheckFieldJsonNameUniqueness; under
  // LEGACY_BEST_EFFORT a compiler only warns).
  void CheckJsonNames(const pb::DescriptorProto &m, const std::string &full) {
    std::unordered_map<std::string, std::string> derived, effective;  // name -> field
    for (const pb::FieldDescriptorProto &f : m.field()) {
      std::string d = JsonName(f.name());
      std::string e = f.has_json_name() ? f.json_name() : d;
      for (auto *seen : {&derived, &effective}) {
        const std::string &name = seen == &derived ? d : e;
        auto it = seen->emplace(name, f.name());
        if (!it.second)
          Fail(Where(full), "The JSON name of field \"" + f.name() + "\" (\"" + name +
                                "\") conflicts with the JSON name of field \"" +
                                it.first->second + "\".");
      }
    }
  }

  // protoc's default JSON name: underscores dropped, the letter after one
  // upper-cased.
  static std::string JsonName(const std::string &name) {
    std::string out;
    bool upper = false;
    for (char c : name) {
      if (c == '_') {
        upper = true;
      } else {
        out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
        upper = false;
      }
    }
    return out;
  }

  // The type a field's type_name names (compilers write full names with a
  // leading dot), nullptr when unknown.
  const Resolver::TypeInfo *Lookup(const std::string &type_name) const {
    if (type_name.empty() || type_name[0] != '.') return nullptr;
    auto it = r_.types_.find(type_name.substr(1));
    return it == r_.types_.end() ? nullptr : &it->second;
  }

  void ResolveField(pb::FieldDescriptorProto *f, const std::string &scope,
                    const cps_features &parent, bool is_extension, bool in_map_entry = false) {
    std::string full = Join(scope, f->name());
    std::string where = Where(full);
    Own own = Parse(f->options(), kFieldFeatures, kTargetField, where);
    // What proto2 and proto3 say with labels, group types and `packed`
    // (descriptor.cc's InferLegacyProtoFeatures).
    if (!editions_) {
      if (f->label() == pb::FieldDescriptorProto::LABEL_REQUIRED)
        own.v[1] = CPS_PRESENCE_LEGACY_REQUIRED;
      if (f->type() == pb::FieldDescriptorProto::TYPE_GROUP) own.v[5] = CPS_MESSAGE_DELIMITED;
      if (f->options().packed()) own.v[3] = CPS_REPEATED_PACKED;
      if (edition_ == kEditionProto3 && f->options().has_packed() && !f->options().packed())
        own.v[3] = CPS_REPEATED_EXPANDED;
    }
    cps_features ff = Merge(parent, own);
    Put('f', full, ff);

    const Resolver::TypeInfo *target = Lookup(f->type_name());
    if (!f->has_type() && target != nullptr) {
      f->set_type(target->is_enum ? pb::FieldDescriptorProto::TYPE_ENUM
                                  : pb::FieldDescriptorProto::TYPE_MESSAGE);
    }
    if (edition_ == kEditionProto3 && f->type() == pb::FieldDescriptorProto::TYPE_ENUM &&
        target != nullptr && target->closed && r_.lowered_files_.count(target->file)) {
      // What 3.21 would say, were the enum's file not built as proto2.
      Fail(where, "Enum type \"" + f->type_name().substr(1) +
                      "\" is not an open enum, but is used in \"" + scope +
                      "\" which is a proto3 message type.");
    }
    if (!editions_) {
      // A proto3 file built as proto2 (it uses an enum of such a file):
      // its proto3 `optional` fields are plain optional ones to 3.21, and
      // their oneofs real ones; the model is told.
      if (lowered_proto3_ && f->proto3_optional()) {
        r_.proto3_optional_.insert(full);
        if (f->has_oneof_index() && containing_ != nullptr &&
            f->oneof_index() < containing_->oneof_decl_size())
          r_.synthetic_.insert(Join(scope, containing_->oneof_decl(f->oneof_index()).name()));
        f->clear_proto3_optional();
      }
      return;
    }

    const int type = f->type();
    const bool repeated = f->label() == pb::FieldDescriptorProto::LABEL_REPEATED;
    const bool is_message = type == pb::FieldDescriptorProto::TYPE_MESSAGE ||
                            type == pb::FieldDescriptorProto::TYPE_GROUP;
    const bool map_type = is_message && target != nullptr && target->map_entry;
    const bool in_oneof = !is_extension && f->has_oneof_index();
    const bool has_presence =
        !repeated && (is_message || is_extension || in_oneof ||
                      ff.field_presence != CPS_PRESENCE_IMPLICIT);

    // descriptor.cc's ValidateFieldFeatures, and what it checks elsewhere
    // for editions files.
    if (f->label() == pb::FieldDescriptorProto::LABEL_REQUIRED)
      Fail(where, "Required label is not allowed under editions.  Use the feature "
                  "field_presence = LEGACY_REQUIRED to control this behavior.");
    if (type == pb::FieldDescriptorProto::TYPE_GROUP)
      Fail(where, "Group types are not allowed under editions.  Use the feature "
                  "message_encoding = DELIMITED to control this behavior.");
    if (f->options().has_packed())
      Fail(where, "Field option packed is not allowed under editions.  Use the "
                  "repeated_field_encoding feature to control this behavior.");
    if (f->proto3_optional())
      Fail(where, "The [proto3_optional=true] option may only be set on proto3 fields.");
    if (!repeated && !has_presence) {
      if (f->has_default_value()) Fail(where, "Implicit presence fields can't specify defaults.");
      if (type == pb::FieldDescriptorProto::TYPE_ENUM && target != nullptr && target->closed)
        Fail(where, "Implicit presence enum fields must always be open.");
    }
    if (is_extension && ff.field_presence == CPS_PRESENCE_LEGACY_REQUIRED)
      Fail(where, "Extensions can't be required.");
    if (!in_map_entry) {
      if (own.v[1] != 0) {
        if (in_oneof) {
          Fail(where, "Oneof fields can't specify field presence.");
        } else if (repeated) {
          Fail(where, "Repeated fields can't specify field presence.");
        } else if (is_extension && own.v[1] != CPS_PRESENCE_LEGACY_REQUIRED) {
          Fail(where, "Extensions can't specify field presence.");
        } else if (is_message && own.v[1] == CPS_PRESENCE_IMPLICIT) {
          Fail(where, "Message fields can't specify implicit presence.");
        }
      }
      if (!repeated && own.v[3] != 0)
        Fail(where, "Only repeated fields can specify repeated field encoding.");
      if (type != pb::FieldDescriptorProto::TYPE_STRING && !(map_type && target->string_map) &&
          own.v[4] != 0)
        Fail(where, "Only string fields can specify utf8 validation.");
      if (!(repeated && Packable(type)) && own.v[3] == CPS_REPEATED_PACKED)
        Fail(where, "Only repeated primitive fields can specify PACKED repeated field encoding.");
      if ((!is_message || map_type) && own.v[5] != 0)
        Fail(where, "Only message fields can specify message encoding.");
    }

    // The lowering: what 3.21 needs to build the field as editions mean it.
    if (ff.field_presence == CPS_PRESENCE_LEGACY_REQUIRED &&
        f->label() == pb::FieldDescriptorProto::LABEL_OPTIONAL)
      f->set_label(pb::FieldDescriptorProto::LABEL_REQUIRED);
    if (type == pb::FieldDescriptorProto::TYPE_MESSAGE && !in_map_entry &&
        ff.message_encoding == CPS_MESSAGE_DELIMITED && !map_type)
      f->set_type(pb::FieldDescriptorProto::TYPE_GROUP);
  }

  Resolver &r_;
  pb::FileDescriptorProto &file_;
  const int edition_;
  const bool editions_;
  const bool lowered_proto3_;  // a proto3 file built as proto2
  const pb::DescriptorProto *containing_ = nullptr;  // of the fields being resolved
};

// Whether a proto3 file has a field of an enum declared in a file built as
// proto2 for 3.21 (which lets proto3 files use proto3 enums only).
bool Resolver::UsesLoweredEnum(const pb::FieldDescriptorProto &f) const {
  if (f.type_name().empty() || f.type_name()[0] != '.') return false;
  auto it = types_.find(f.type_name().substr(1));
  return it != types_.end() && it->second.is_enum && lowered_files_.count(it->second.file);
}

bool Resolver::UsesLoweredEnum(const pb::DescriptorProto &m) const {
  for (const pb::FieldDescriptorProto &f : m.field())
    if (UsesLoweredEnum(f)) return true;
  for (const pb::FieldDescriptorProto &f : m.extension())
    if (UsesLoweredEnum(f)) return true;
  for (const pb::DescriptorProto &n : m.nested_type())
    if (UsesLoweredEnum(n)) return true;
  return false;
}

const pb::FileDescriptorProto &Resolver::Resolve(const pb::FileDescriptorProto &proto,
                                                 pb::FileDescriptorProto *lowered) {
  const std::string &name = proto.name();
  uint64_t raw = 0;
  bool has_edition = UnknownVarint(proto, kFileEdition, &raw);
  const std::string &syntax = proto.syntax();
  int edition;
  if (has_edition) {
    edition = raw > 0x7fffffff ? -1 : static_cast<int>(raw);
    if (edition != kEditionProto2 && edition != kEditionProto3 &&
        (edition < kMinimumEdition || edition > kMaximumEdition)) {
      Fail(name, "edition " + (edition < 0 ? std::to_string(raw) : EditionName(edition)) +
                     " is not supported: cpay supports editions " +
                     EditionName(kMinimumEdition) + " to " + EditionName(kMaximumEdition));
    }
  } else if (syntax.empty() || syntax == "proto2") {
    edition = kEditionProto2;
  } else if (syntax == "proto3") {
    edition = kEditionProto3;
  } else if (syntax == "editions") {
    Fail(name, "syntax \"editions\" without an edition");
  } else {
    Fail(name, "Unrecognized syntax: " + syntax);
  }
  const bool editions = edition >= kEdition2023;
  bool lowered_proto3 = false;
  if (edition == kEditionProto3 && !lowered_files_.empty()) {
    for (const pb::DescriptorProto &m : proto.message_type())
      lowered_proto3 = lowered_proto3 || UsesLoweredEnum(m);
    for (const pb::FieldDescriptorProto &x : proto.extension())
      lowered_proto3 = lowered_proto3 || UsesLoweredEnum(x);
  }
  const bool rewrite = editions || has_edition || lowered_proto3;

  if (rewrite && lowered == nullptr)
    Fail(name, "internal error: an editions file from libprotoc's parser");
  FileInfo info;
  info.edition = edition;
  info.editions = editions;
  info.lowered = editions || lowered_proto3;
  pb::FileDescriptorProto scratch;
  pb::FileDescriptorProto *work = rewrite ? lowered : &scratch;
  *work = proto;
  if (info.lowered) {
    info.original = proto;
    info.original.clear_source_code_info();
    work->set_syntax("proto2");
    lowered_files_.insert(name);
  } else if (has_edition) {
    work->set_syntax(edition == kEditionProto3 ? "proto3" : "proto2");
  }
  info.features = FileWalker(this, work, edition, editions, lowered_proto3).Run();
  files_[name] = std::move(info);
  return rewrite ? *lowered : proto;
}

const Resolver::FileInfo &Resolver::File(const std::string &name) const {
  auto it = files_.find(name);
  if (it == files_.end()) throw Error(name + ": internal error: features not resolved");
  return it->second;
}

const cps_features &Resolver::Of(char kind, const std::string &full_name) const {
  auto it = features_.find(std::string(1, kind) + full_name);
  if (it == features_.end())
    throw Error(full_name + ": internal error: features not resolved");
  return it->second;
}

}  // namespace cpay_editions
