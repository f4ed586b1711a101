// The editions front end (C++, internal to the shim): feature resolution for
// every file, message, field, oneof, enum and enum value, and the lowering of
// `edition = "2023"` / `"2024"` files into proto2 FileDescriptorProtos that
// libprotobuf 3.21 can build. See docs/design.md, "Editions".
//
// libprotobuf 3.21 predates editions: its descriptor.proto has no
// FileDescriptorProto.edition (14) and no `features` field in the *Options
// messages, so both arrive as unknown fields of the generated classes. This
// code reads them from there, resolves features as protobuf v36's
// feature_resolver.cc and descriptor.cc do (edition defaults; inheritance
// file -> message -> nested message / field / oneof -> field, enum -> value;
// proto2/proto3 files as editions "legacy" and "proto3" with their features
// inferred from labels, group types and the packed option), checks what
// descriptor.cc checks of features, and rewrites an editions file for 3.21:
// syntax "proto2", LABEL_REQUIRED for field_presence = LEGACY_REQUIRED,
// TYPE_GROUP for message_encoding = DELIMITED (never for maps). Unknown
// fields, features included, stay in the rewrite. The model's flags
// (presence, packed, UTF-8 checks, closed enums) come from the resolved
// features, not from what 3.21 makes of the rewrite.
#ifndef CPAY_PLUGIN_SCHEMA_EDITIONS_H_
#define CPAY_PLUGIN_SCHEMA_EDITIONS_H_

#include <google/protobuf/descriptor.pb.h>

#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "schema/model.h"

namespace cpay_editions {

// google.protobuf.Edition values.
constexpr int kEditionLegacy = 900;
constexpr int kEditionProto2 = 998;
constexpr int kEditionProto3 = 999;
constexpr int kEdition2023 = 1000;
constexpr int kEdition2024 = 1001;
// The editions the front end supports (CodeGeneratorResponse
// minimum_edition / maximum_edition).
constexpr int kMinimumEdition = kEdition2023;
constexpr int kMaximumEdition = kEdition2024;

// `s` with control bytes and DEL written as \xNN (newlines too unless
// keep_newlines), so that an error message quoting hostile input stays
// readable and a NUL does not end it.
std::string Printable(const std::string &s, bool keep_newlines = false);

// Bad input: the message names the file and element. what() is a C string:
// the text is made printable first, or a NUL in a name would cut it short
// (to nothing, for a file name starting with one).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string &what) : std::runtime_error(Printable(what, true)) {}
};

// "2023" for 1000, "UNSTABLE" for 9999, "proto2" for 998...
std::string EditionName(int edition);

// The defaults of an edition (proto2 for anything before 2023's legacy).
cps_features EditionDefaults(int edition);

// The features of one pool's files, filled file by file, dependencies first.
class Resolver {
 public:
  struct FileInfo {
    int edition = kEditionProto2;  // google.protobuf.Edition value
    cps_features features{};
    bool editions = false;  // syntax "editions"
    // Built as proto2 by libprotobuf 3.21: editions files, and proto3 files
    // that use an enum of such a file (3.21 lets proto3 files use proto3
    // enums only).
    bool lowered = false;
    // Lowered files: the FileDescriptorProto as given, without source code
    // info (what the generated code embeds).
    google::protobuf::FileDescriptorProto original;
  };

  // Resolves `proto` and returns what libprotobuf 3.21 is to build: `proto`
  // itself for a proto2/proto3 file, else *lowered, filled with the rewrite.
  // Throws Error for an unsupported edition or invalid features.
  const google::protobuf::FileDescriptorProto &Resolve(
      const google::protobuf::FileDescriptorProto &proto,
      google::protobuf::FileDescriptorProto *lowered);

  bool HasFile(const std::string &name) const { return files_.count(name) != 0; }
  const FileInfo &File(const std::string &name) const;

  // The resolved features of an element by its full name (fields and
  // extensions, oneofs, messages, enums, enum values: their kind letter is
  // 'f', 'o', 'm', 'e', 'v').
  const cps_features &Of(char kind, const std::string &full_name) const;

  // A proto3 file built as proto2 loses its synthetic oneofs to 3.21: by
  // their full names, the oneofs that are synthetic and the fields that are
  // proto3 `optional`.
  bool Synthetic(const std::string &oneof) const { return synthetic_.count(oneof) != 0; }
  bool Proto3Optional(const std::string &field) const {
    return proto3_optional_.count(field) != 0;
  }

 private:
  friend class FileWalker;
  struct TypeInfo {
    bool is_enum = false;
    bool map_entry = false;       // messages
    bool string_map = false;      // map entries with a string key or value
    bool closed = false;          // enums
    int edition = kEditionProto2;  // of its file
    std::string file;
  };
  std::unordered_map<std::string, FileInfo> files_;
  std::unordered_map<std::string, cps_features> features_;  // kind + full name
  std::unordered_map<std::string, TypeInfo> types_;         // full name, no leading dot
  std::unordered_set<std::string> lowered_files_;           // built as proto2
  std::unordered_set<std::string> synthetic_, proto3_optional_;

  bool UsesLoweredEnum(const google::protobuf::DescriptorProto &m) const;
  bool UsesLoweredEnum(const google::protobuf::FieldDescriptorProto &f) const;
};

}  // namespace cpay_editions

#endif  // CPAY_PLUGIN_SCHEMA_EDITIONS_H_
