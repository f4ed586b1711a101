// The C side of the interop tests (interop_test.py drives it).
//
//   interop-tool fill CASE         writes CASE's message, built with cpay's
//                                  generated API, to stdout
//   interop-tool check CASE FILE   parses FILE with cpay and compares it with
//                                  the message fill builds (exit 0 if equal)
//   interop-tool roundtrip CASE    parses stdin and writes it back to stdout
//
// CASE is proto3_all, proto2_all or payments_<Message>; data/CASE.txtpb holds
// the same message in text format, which Python and C++ protobuf read.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payments.cpay.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

#define BYTES(lit) bytes_of(lit, sizeof(lit) - 1)

static cpay_bytes bytes_of(const char *data, size_t size) {
  cpay_bytes b = {(const uint8_t *)data, size};
  return b;
}

// ---- proto3 ---------------------------------------------------------------

#define T3(x) protobuf_test_messages_proto3_TestAllTypesProto3_##x
#define N3(x) protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage_##x
typedef protobuf_test_messages_proto3_TestAllTypesProto3 all3;

// Each fill_* returns true when every allocation succeeded.
static bool fill_proto3(all3 *m, cpay_arena *a) {
  bool ok = true;
  m->optional_int32 = -123;
  m->optional_int64 = -1234567890123;
  m->optional_uint32 = 4000000000u;
  m->optional_uint64 = 18000000000000000000u;
  m->optional_sint32 = -77;
  m->optional_sint64 = -7777777777;
  m->optional_fixed32 = 3000000000u;
  m->optional_fixed64 = 17000000000000000000u;
  m->optional_sfixed32 = -55;
  m->optional_sfixed64 = -5555555555;
  m->optional_float = 1.5f;
  m->optional_double = -2.75;
  m->optional_bool = true;
  m->optional_string = CPAY_STR("h\xc3\xa9llo w\xc3\xb6rld");
  m->optional_bytes = BYTES("\000\001\377bytes");

  protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage *nm =
      T3(mutable_optional_nested_message)(m, a);
  all3 *co = nm ? N3(mutable_corecursive)(nm, a) : NULL;
  if (!co) return false;
  nm->a = 11;
  co->optional_int32 = 12;
  protobuf_test_messages_proto3_ForeignMessage *fm = T3(mutable_optional_foreign_message)(m, a);
  if (!fm) return false;
  fm->c = 13;
  m->optional_nested_enum = T3(NEG);
  m->optional_foreign_enum = protobuf_test_messages_proto3_FOREIGN_BAZ;
  m->optional_aliased_enum = T3(ALIAS_BAZ);
  m->optional_string_piece = CPAY_STR("piece");
  m->optional_cord = CPAY_STR("cord");
  all3 *rec = T3(mutable_recursive_message)(m, a);
  all3 *rec2 = rec ? T3(mutable_recursive_message)(rec, a) : NULL;
  if (!rec2) return false;
  rec->optional_int32 = 14;
  T3(set_oneof_enum)(rec, T3(BAR));
  rec2->optional_string = CPAY_STR("deeper");

  ok &= T3(add_repeated_int32)(m, 1, a) == CPAY_OK;
  ok &= T3(add_repeated_int32)(m, -2, a) == CPAY_OK;
  ok &= T3(add_repeated_int32)(m, 2147483647, a) == CPAY_OK;
  ok &= T3(add_repeated_int32)(m, -2147483647 - 1, a) == CPAY_OK;
  ok &= T3(add_repeated_int64)(m, 3, a) == CPAY_OK;
  ok &= T3(add_repeated_int64)(m, -4, a) == CPAY_OK;
  ok &= T3(add_repeated_uint32)(m, 5, a) == CPAY_OK;
  ok &= T3(add_repeated_uint32)(m, 4294967295u, a) == CPAY_OK;
  ok &= T3(add_repeated_uint64)(m, 6, a) == CPAY_OK;
  ok &= T3(add_repeated_uint64)(m, UINT64_MAX, a) == CPAY_OK;
  ok &= T3(add_repeated_sint32)(m, -7, a) == CPAY_OK;
  ok &= T3(add_repeated_sint32)(m, 7, a) == CPAY_OK;
  ok &= T3(add_repeated_sint64)(m, -8, a) == CPAY_OK;
  ok &= T3(add_repeated_sint64)(m, 8, a) == CPAY_OK;
  ok &= T3(add_repeated_fixed32)(m, 9, a) == CPAY_OK;
  ok &= T3(add_repeated_fixed32)(m, 10, a) == CPAY_OK;
  ok &= T3(add_repeated_fixed64)(m, 11, a) == CPAY_OK;
  ok &= T3(add_repeated_fixed64)(m, 12, a) == CPAY_OK;
  ok &= T3(add_repeated_sfixed32)(m, -13, a) == CPAY_OK;
  ok &= T3(add_repeated_sfixed32)(m, 13, a) == CPAY_OK;
  ok &= T3(add_repeated_sfixed64)(m, -14, a) == CPAY_OK;
  ok &= T3(add_repeated_sfixed64)(m, 14, a) == CPAY_OK;
  ok &= T3(add_repeated_float)(m, 1.25f, a) == CPAY_OK;
  ok &= T3(add_repeated_float)(m, -0.5f, a) == CPAY_OK;
  ok &= T3(add_repeated_double)(m, 2.5, a) == CPAY_OK;
  ok &= T3(add_repeated_double)(m, -1e100, a) == CPAY_OK;
  ok &= T3(add_repeated_bool)(m, true, a) == CPAY_OK;
  ok &= T3(add_repeated_bool)(m, false, a) == CPAY_OK;
  ok &= T3(add_repeated_bool)(m, true, a) == CPAY_OK;
  ok &= T3(add_repeated_string)(m, CPAY_STR("a"), a) == CPAY_OK;
  ok &= T3(add_repeated_string)(m, CPAY_STR(""), a) == CPAY_OK;
  ok &= T3(add_repeated_string)(m, CPAY_STR("ccc"), a) == CPAY_OK;
  ok &= T3(add_repeated_bytes)(m, BYTES("\001"), a) == CPAY_OK;
  ok &= T3(add_repeated_bytes)(m, BYTES(""), a) == CPAY_OK;
  protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage *r1 =
      T3(add_repeated_nested_message)(m, a);
  protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage *r2 =
      T3(add_repeated_nested_message)(m, a);
  protobuf_test_messages_proto3_ForeignMessage *rf = T3(add_repeated_foreign_message)(m, a);
  if (!r1 || !r2 || !rf) return false;
  r1->a = 15;
  r2->a = 16;
  rf->c = 17;
  ok &= T3(add_repeated_nested_enum)(m, T3(FOO), a) == CPAY_OK;
  ok &= T3(add_repeated_nested_enum)(m, T3(BAR), a) == CPAY_OK;
  ok &= T3(add_repeated_nested_enum)(m, T3(NEG), a) == CPAY_OK;
  ok &= T3(add_repeated_foreign_enum)(m, protobuf_test_messages_proto3_FOREIGN_BAR, a) ==
        CPAY_OK;
  ok &= T3(add_repeated_string_piece)(m, CPAY_STR("p1"), a) == CPAY_OK;
  ok &= T3(add_repeated_string_piece)(m, CPAY_STR("p2"), a) == CPAY_OK;
  ok &= T3(add_repeated_cord)(m, CPAY_STR("c1"), a) == CPAY_OK;

  ok &= T3(add_packed_int32)(m, 1, a) == CPAY_OK;
  ok &= T3(add_packed_int32)(m, -1, a) == CPAY_OK;
  ok &= T3(add_packed_int64)(m, 2, a) == CPAY_OK;
  ok &= T3(add_packed_int64)(m, -2, a) == CPAY_OK;
  ok &= T3(add_packed_uint32)(m, 3, a) == CPAY_OK;
  ok &= T3(add_packed_uint64)(m, 4, a) == CPAY_OK;
  ok &= T3(add_packed_sint32)(m, -5, a) == CPAY_OK;
  ok &= T3(add_packed_sint32)(m, 5, a) == CPAY_OK;
  ok &= T3(add_packed_sint64)(m, -6, a) == CPAY_OK;
  ok &= T3(add_packed_sint64)(m, 6, a) == CPAY_OK;
  ok &= T3(add_packed_fixed32)(m, 7, a) == CPAY_OK;
  ok &= T3(add_packed_fixed64)(m, 8, a) == CPAY_OK;
  ok &= T3(add_packed_sfixed32)(m, -9, a) == CPAY_OK;
  ok &= T3(add_packed_sfixed64)(m, -10, a) == CPAY_OK;
  ok &= T3(add_packed_float)(m, 0.25f, a) == CPAY_OK;
  ok &= T3(add_packed_double)(m, 0.125, a) == CPAY_OK;
  ok &= T3(add_packed_bool)(m, false, a) == CPAY_OK;
  ok &= T3(add_packed_bool)(m, true, a) == CPAY_OK;
  ok &= T3(add_packed_nested_enum)(m, T3(BAZ), a) == CPAY_OK;
  ok &= T3(add_packed_nested_enum)(m, T3(NEG), a) == CPAY_OK;

  ok &= T3(add_unpacked_int32)(m, 11, a) == CPAY_OK;
  ok &= T3(add_unpacked_int32)(m, -11, a) == CPAY_OK;
  ok &= T3(add_unpacked_int64)(m, 12, a) == CPAY_OK;
  ok &= T3(add_unpacked_uint32)(m, 13, a) == CPAY_OK;
  ok &= T3(add_unpacked_uint64)(m, 14, a) == CPAY_OK;
  ok &= T3(add_unpacked_sint32)(m, -15, a) == CPAY_OK;
  ok &= T3(add_unpacked_sint64)(m, -16, a) == CPAY_OK;
  ok &= T3(add_unpacked_fixed32)(m, 17, a) == CPAY_OK;
  ok &= T3(add_unpacked_fixed64)(m, 18, a) == CPAY_OK;
  ok &= T3(add_unpacked_sfixed32)(m, -19, a) == CPAY_OK;
  ok &= T3(add_unpacked_sfixed64)(m, -20, a) == CPAY_OK;
  ok &= T3(add_unpacked_float)(m, 21.5f, a) == CPAY_OK;
  ok &= T3(add_unpacked_double)(m, 22.5, a) == CPAY_OK;
  ok &= T3(add_unpacked_bool)(m, true, a) == CPAY_OK;
  ok &= T3(add_unpacked_nested_enum)(m, T3(BAR), a) == CPAY_OK;
  ok &= T3(add_unpacked_nested_enum)(m, T3(NEG), a) == CPAY_OK;

  ok &= T3(map_int32_int32_set)(m, -1, -2, a) == CPAY_OK;
  ok &= T3(map_int32_int32_set)(m, 3, 4, a) == CPAY_OK;
  ok &= T3(map_int64_int64_set)(m, -5, 6, a) == CPAY_OK;
  ok &= T3(map_uint32_uint32_set)(m, 7, 8, a) == CPAY_OK;
  ok &= T3(map_uint64_uint64_set)(m, 9, 10, a) == CPAY_OK;
  ok &= T3(map_sint32_sint32_set)(m, -11, -12, a) == CPAY_OK;
  ok &= T3(map_sint64_sint64_set)(m, -13, -14, a) == CPAY_OK;
  ok &= T3(map_fixed32_fixed32_set)(m, 15, 16, a) == CPAY_OK;
  ok &= T3(map_fixed64_fixed64_set)(m, 17, 18, a) == CPAY_OK;
  ok &= T3(map_sfixed32_sfixed32_set)(m, -19, -20, a) == CPAY_OK;
  ok &= T3(map_sfixed64_sfixed64_set)(m, -21, -22, a) == CPAY_OK;
  ok &= T3(map_int32_float_set)(m, 23, 0.5f, a) == CPAY_OK;
  ok &= T3(map_int32_double_set)(m, 24, -0.25, a) == CPAY_OK;
  ok &= T3(map_bool_bool_set)(m, true, true, a) == CPAY_OK;
  ok &= T3(map_bool_bool_set)(m, false, false, a) == CPAY_OK;
  ok &= T3(map_string_string_set)(m, CPAY_STR("k1"), CPAY_STR("v1"), a) == CPAY_OK;
  ok &= T3(map_string_string_set)(m, CPAY_STR(""), CPAY_STR("empty key"), a) == CPAY_OK;
  ok &= T3(map_string_bytes_set)(m, CPAY_STR("b"), BYTES("\000\377"), a) == CPAY_OK;
  protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage *mv =
      protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage_new(a);
  protobuf_test_messages_proto3_ForeignMessage *fv =
      protobuf_test_messages_proto3_ForeignMessage_new(a);
  if (!mv || !fv) return false;
  mv->a = 25;
  fv->c = 26;
  ok &= T3(map_string_nested_message_set)(m, CPAY_STR("m"), mv, a) == CPAY_OK;
  ok &= T3(map_string_foreign_message_set)(m, CPAY_STR("f"), fv, a) == CPAY_OK;
  ok &= T3(map_string_nested_enum_set)(m, CPAY_STR("e"), T3(NEG), a) == CPAY_OK;
  ok &= T3(map_string_foreign_enum_set)(m, CPAY_STR("g"), protobuf_test_messages_proto3_FOREIGN_BAR,
                                         a) == CPAY_OK;
  protobuf_test_messages_proto3_TestAllTypesProto3_NestedMessage *on =
      T3(mutable_oneof_nested_message)(m, a);
  if (!on) return false;
  on->a = 27;

  // The wrappers and other well-known types, as plain messages.
  google_protobuf_BoolValue *bw = T3(mutable_optional_bool_wrapper)(m, a);
  google_protobuf_Int32Value *i32w = T3(mutable_optional_int32_wrapper)(m, a);
  google_protobuf_Int64Value *i64w = T3(mutable_optional_int64_wrapper)(m, a);
  google_protobuf_UInt32Value *u32w = T3(mutable_optional_uint32_wrapper)(m, a);
  google_protobuf_UInt64Value *u64w = T3(mutable_optional_uint64_wrapper)(m, a);
  google_protobuf_FloatValue *fw = T3(mutable_optional_float_wrapper)(m, a);
  google_protobuf_DoubleValue *dw = T3(mutable_optional_double_wrapper)(m, a);
  google_protobuf_StringValue *sw = T3(mutable_optional_string_wrapper)(m, a);
  google_protobuf_BytesValue *byw = T3(mutable_optional_bytes_wrapper)(m, a);
  if (!bw || !i32w || !i64w || !u32w || !u64w || !fw || !dw || !sw || !byw) return false;
  bw->value = true;
  i32w->value = -28;
  i64w->value = -29;
  u32w->value = 30;
  u64w->value = 31;
  fw->value = 32.5f;
  dw->value = 33.5;
  sw->value = CPAY_STR("wrapped");
  byw->value = BYTES("wb");
  google_protobuf_BoolValue *rbw1 = T3(add_repeated_bool_wrapper)(m, a);
  google_protobuf_BoolValue *rbw2 = T3(add_repeated_bool_wrapper)(m, a);
  google_protobuf_Int32Value *ri32 = T3(add_repeated_int32_wrapper)(m, a);
  google_protobuf_Int64Value *ri64 = T3(add_repeated_int64_wrapper)(m, a);
  google_protobuf_UInt32Value *ru32 = T3(add_repeated_uint32_wrapper)(m, a);
  google_protobuf_UInt64Value *ru64 = T3(add_repeated_uint64_wrapper)(m, a);
  google_protobuf_FloatValue *rfw = T3(add_repeated_float_wrapper)(m, a);
  google_protobuf_DoubleValue *rdw = T3(add_repeated_double_wrapper)(m, a);
  google_protobuf_StringValue *rsw = T3(add_repeated_string_wrapper)(m, a);
  google_protobuf_BytesValue *rbyw = T3(add_repeated_bytes_wrapper)(m, a);
  if (!rbw1 || !rbw2 || !ri32 || !ri64 || !ru32 || !ru64 || !rfw || !rdw || !rsw || !rbyw) {
    return false;
  }
  rbw1->value = false;
  ri32->value = 34;
  ri64->value = 35;
  ru32->value = 36;
  ru64->value = 37;
  rfw->value = 38;
  rdw->value = 39;
  rsw->value = CPAY_STR("rw");
  rbyw->value = BYTES("rb");

  google_protobuf_Duration *du = T3(mutable_optional_duration)(m, a);
  google_protobuf_Timestamp *ts = T3(mutable_optional_timestamp)(m, a);
  google_protobuf_FieldMask *fmask = T3(mutable_optional_field_mask)(m, a);
  google_protobuf_Struct *st = T3(mutable_optional_struct)(m, a);
  google_protobuf_Any *any = T3(mutable_optional_any)(m, a);
  google_protobuf_Value *val = T3(mutable_optional_value)(m, a);
  if (!du || !ts || !fmask || !st || !any || !val) return false;
  du->seconds = 40;
  du->nanos = 500000000;
  ts->seconds = 1700000000;
  ts->nanos = 1;
  ok &= google_protobuf_FieldMask_add_paths(fmask, CPAY_STR("a.b"), a) == CPAY_OK;
  ok &= google_protobuf_FieldMask_add_paths(fmask, CPAY_STR("c"), a) == CPAY_OK;
  google_protobuf_Value *sv = google_protobuf_Value_new(a);
  google_protobuf_Value *nv = google_protobuf_Value_new(a);
  if (!sv || !nv) return false;
  google_protobuf_Value_set_string_value(sv, CPAY_STR("t"));
  google_protobuf_Value_set_number_value(nv, 41);
  ok &= google_protobuf_Struct_fields_set(st, CPAY_STR("s"), sv, a) == CPAY_OK;
  ok &= google_protobuf_Struct_fields_set(st, CPAY_STR("n"), nv, a) == CPAY_OK;
  any->type_url = CPAY_STR("type.googleapis.com/protobuf_test_messages.proto3.ForeignMessage");
  any->value = BYTES("\010\052");
  google_protobuf_ListValue *lv = google_protobuf_Value_mutable_list_value(val, a);
  google_protobuf_Value *l1 = lv ? google_protobuf_ListValue_add_values(lv, a) : NULL;
  google_protobuf_Value *l2 = lv ? google_protobuf_ListValue_add_values(lv, a) : NULL;
  if (!l1 || !l2) return false;
  google_protobuf_Value_set_bool_value(l1, true);
  google_protobuf_Value_set_null_value(l2, google_protobuf_NULL_VALUE);
  m->optional_null_value = google_protobuf_NULL_VALUE;

  google_protobuf_Duration *rdu = T3(add_repeated_duration)(m, a);
  google_protobuf_Timestamp *rts = T3(add_repeated_timestamp)(m, a);
  google_protobuf_FieldMask *rfm = T3(add_repeated_fieldmask)(m, a);
  google_protobuf_Struct *rst = T3(add_repeated_struct)(m, a);
  google_protobuf_Any *rany = T3(add_repeated_any)(m, a);
  google_protobuf_Value *rval = T3(add_repeated_value)(m, a);
  google_protobuf_ListValue *rlv = T3(add_repeated_list_value)(m, a);
  google_protobuf_Value *rl1 = rlv ? google_protobuf_ListValue_add_values(rlv, a) : NULL;
  if (!rdu || !rts || !rfm || !rst || !rany || !rval || !rl1) return false;
  rdu->seconds = -1;
  rdu->nanos = -2;
  ok &= google_protobuf_FieldMask_add_paths(rfm, CPAY_STR("x"), a) == CPAY_OK;
  rany->type_url = CPAY_STR("u");
  google_protobuf_Value_set_number_value(rval, 43);
  google_protobuf_Value_set_string_value(rl1, CPAY_STR("l"));

  m->fieldname1 = 1;
  m->field_name2 = 2;
  m->_field_name3 = 3;
  m->field__name4_ = 4;
  m->field0name5 = 5;
  m->field_0_name6 = 6;
  m->fieldName7 = 7;
  m->FieldName8 = 8;
  m->field_Name9 = 9;
  m->Field_Name10 = 10;
  m->FIELD_NAME11 = 11;
  m->FIELD_name12 = 12;
  m->__field_name13 = 13;
  m->__Field_name14 = 14;
  m->field__name15 = 15;
  m->field__Name16 = 16;
  m->field_name17__ = 17;
  m->Field_name18__ = 18;
  return ok;
}

// ---- proto2 ---------------------------------------------------------------

#define T2(x) protobuf_test_messages_proto2_TestAllTypesProto2_##x
typedef protobuf_test_messages_proto2_TestAllTypesProto2 all2;

static bool fill_proto2(all2 *m, cpay_arena *a) {
  bool ok = true;
  // Zero and empty values with presence are written: they must survive.
  T2(set_optional_int32)(m, 0);
  T2(set_optional_int64)(m, -2);
  T2(set_optional_uint32)(m, 3);
  T2(set_optional_uint64)(m, 4);
  T2(set_optional_sint32)(m, -5);
  T2(set_optional_sint64)(m, -6);
  T2(set_optional_fixed32)(m, 7);
  T2(set_optional_fixed64)(m, 8);
  T2(set_optional_sfixed32)(m, -9);
  T2(set_optional_sfixed64)(m, -10);
  T2(set_optional_float)(m, 0);
  T2(set_optional_double)(m, -12.5);
  T2(set_optional_bool)(m, false);
  T2(set_optional_string)(m, CPAY_STR(""));
  T2(set_optional_bytes)(m, BYTES("\377"));
  protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage *nm =
      T2(mutable_optional_nested_message)(m, a);
  all2 *co = nm ? protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage_mutable_corecursive(
                      nm, a)
                : NULL;
  protobuf_test_messages_proto2_ForeignMessageProto2 *fm =
      T2(mutable_optional_foreign_message)(m, a);
  all2 *rec = T2(mutable_recursive_message)(m, a);
  if (!co || !fm || !rec) return false;
  protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage_set_a(nm, 13);
  T2(set_optional_bool)(co, true);
  protobuf_test_messages_proto2_ForeignMessageProto2_set_c(fm, 14);
  T2(set_optional_nested_enum)(m, T2(NEG));
  T2(set_optional_foreign_enum)(m, protobuf_test_messages_proto2_FOREIGN_BAR);
  T2(set_optional_string_piece)(m, CPAY_STR("sp"));
  T2(set_optional_cord)(m, CPAY_STR("cd"));
  T2(set_optional_int32)(rec, 15);

  ok &= T2(add_repeated_int32)(m, 16, a) == CPAY_OK;
  ok &= T2(add_repeated_int32)(m, -16, a) == CPAY_OK;
  ok &= T2(add_repeated_string)(m, CPAY_STR("x"), a) == CPAY_OK;
  ok &= T2(add_repeated_string)(m, CPAY_STR("y"), a) == CPAY_OK;
  protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage *rn =
      T2(add_repeated_nested_message)(m, a);
  if (!rn) return false;
  protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage_set_a(rn, 17);
  ok &= T2(add_repeated_nested_enum)(m, T2(BAZ), a) == CPAY_OK;
  ok &= T2(add_repeated_nested_enum)(m, T2(FOO), a) == CPAY_OK;
  ok &= T2(add_packed_sint32)(m, -18, a) == CPAY_OK;
  ok &= T2(add_packed_sint32)(m, 18, a) == CPAY_OK;
  ok &= T2(add_packed_nested_enum)(m, T2(BAR), a) == CPAY_OK;
  ok &= T2(add_unpacked_double)(m, 19.5, a) == CPAY_OK;
  ok &= T2(add_unpacked_nested_enum)(m, T2(NEG), a) == CPAY_OK;

  ok &= T2(map_int32_int32_set)(m, 20, -20, a) == CPAY_OK;
  protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage *mv =
      protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage_new(a);
  if (!mv) return false;
  protobuf_test_messages_proto2_TestAllTypesProto2_NestedMessage_set_a(mv, 21);
  ok &= T2(map_string_nested_message_set)(m, CPAY_STR("n"), mv, a) == CPAY_OK;
  ok &= T2(map_string_nested_enum_set)(m, CPAY_STR("e"), T2(BAZ), a) == CPAY_OK;
  ok &= T2(map_string_foreign_enum_set)(m, CPAY_STR("f"),
                                         protobuf_test_messages_proto2_FOREIGN_BAZ, a) == CPAY_OK;
  T2(set_oneof_string)(m, CPAY_STR("the one"));
  protobuf_test_messages_proto2_TestAllTypesProto2_Data *g = T2(mutable_data)(m, a);
  if (!g) return false;
  protobuf_test_messages_proto2_TestAllTypesProto2_Data_set_group_int32(g, 22);
  protobuf_test_messages_proto2_TestAllTypesProto2_Data_set_group_uint32(g, 23);

  T2(set_default_int32)(m, 24);
  T2(set_default_int64)(m, -25);
  T2(set_default_uint32)(m, 26);
  T2(set_default_uint64)(m, 27);
  T2(set_default_sint32)(m, -28);
  T2(set_default_sint64)(m, -29);
  T2(set_default_fixed32)(m, 30);
  T2(set_default_fixed64)(m, 31);
  T2(set_default_sfixed32)(m, -32);
  T2(set_default_sfixed64)(m, -33);
  T2(set_default_float)(m, 34.5f);
  T2(set_default_double)(m, -35.5);
  T2(set_default_bool)(m, false);
  T2(set_default_string)(m, CPAY_STR("not Rosebud"));
  T2(set_default_bytes)(m, BYTES("not joshua"));
  T2(set_fieldname1)(m, 1);
  T2(set_Field_name18__)(m, 18);

  int32_t *ext = cpay_msg_mutable_ext(m, &protobuf_test_messages_proto2_extension_int32, a);
  if (!ext) return false;
  *ext = 36;
  return ok;
}

// ---- payments --------------------------------------------------------------

static bool fill_payments(const char *name, void *msg, cpay_arena *a) {
  if (strcmp(name, "ChargeRequest") == 0) {
    payments_v1_ChargeRequest *m = msg;
    m->customer_id = CPAY_STR("cus_0042");
    m->amount_cents = 1999;
    m->currency = CPAY_STR("USD");
    m->idempotency_key = CPAY_STR("order-7f3a-retry-safe");
    payments_v1_ChargeRequest_set_description(m, CPAY_STR(""));
  } else if (strcmp(name, "ChargeResponse") == 0) {
    payments_v1_ChargeResponse *m = msg;
    m->transaction_id = CPAY_STR("txn_0001");
    m->status = payments_v1_CHARGE_STATUS_DECLINED;
    m->processor_reference = CPAY_STR("proc-ref-9");
    m->processed_at_unix = 1700000000;
  } else if (strcmp(name, "Transaction") == 0) {
    payments_v1_Transaction *m = msg;
    m->id = CPAY_STR("txn_0002");
    m->customer_id = CPAY_STR("cus_0042");
    m->amount_cents = -500;
    m->currency = CPAY_STR("EUR");
    m->created_at_unix = 1700000123;
  } else if (strcmp(name, "TransactionStreamRequest") == 0) {
    payments_v1_TransactionStreamRequest *m = msg;
    m->customer_id = CPAY_STR("cus_0042");
    m->since_unix = 1690000000;
  } else if (strcmp(name, "BatchChargeResponse") == 0) {
    payments_v1_BatchChargeResponse *m = msg;
    m->total = 3;
    m->succeeded = 1;
    m->failed = 2;
    if (payments_v1_BatchChargeResponse_add_failed_idempotency_keys(m, CPAY_STR("k-1"), a) !=
            CPAY_OK ||
        payments_v1_BatchChargeResponse_add_failed_idempotency_keys(m, CPAY_STR("k-2"), a) !=
            CPAY_OK) {
      return false;
    }
  } else if (strcmp(name, "PaymentMessage") == 0) {
    payments_v1_PaymentMessage *m = msg;
    m->text = CPAY_STR("Was my card charged twice?");
    m->sender = CPAY_STR("cus_0042");
    m->sent_at_unix = 1700000200;
    payments_v1_PaymentMessage_set_transaction_id(m, CPAY_STR("txn_0002"));
  }
  return true;
}

// ---- driver ----------------------------------------------------------------

static const struct {
  const char *name;
  const cpay_msg_table *table;
} cases[] = {
    {"proto3_all", &protobuf_test_messages_proto3_TestAllTypesProto3_table},
    {"proto2_all", &protobuf_test_messages_proto2_TestAllTypesProto2_table},
    {"payments_ChargeRequest", &payments_v1_ChargeRequest_table},
    {"payments_ChargeResponse", &payments_v1_ChargeResponse_table},
    {"payments_Transaction", &payments_v1_Transaction_table},
    {"payments_TransactionStreamRequest", &payments_v1_TransactionStreamRequest_table},
    {"payments_BatchChargeResponse", &payments_v1_BatchChargeResponse_table},
    {"payments_PaymentMessage", &payments_v1_PaymentMessage_table},
};

static void *fill(const char *name, const cpay_msg_table *t, cpay_arena *a) {
  void *msg = cpay_msg_new(t, a);
  if (!msg) return NULL;
  bool ok;
  if (strcmp(name, "proto3_all") == 0) {
    ok = fill_proto3(msg, a);
  } else if (strcmp(name, "proto2_all") == 0) {
    ok = fill_proto2(msg, a);
  } else {
    ok = fill_payments(name + strlen("payments_"), msg, a);
  }
  return ok ? msg : NULL;
}

static bool read_stream(FILE *f, cpay_arena *a, cpay_bytes *out) {
  size_t size = 0, cap = 4096;
  uint8_t *buf = cpay_arena_malloc(a, cap);
  while (buf) {
    size_t n = fread(buf + size, 1, cap - size, f);
    size += n;
    if (n == 0) break;
    if (size == cap) {
      buf = cpay_arena_realloc(a, buf, cap, cap * 2);
      cap *= 2;
    }
  }
  if (!buf || ferror(f)) return false;
  out->data = buf;
  out->size = size;
  return true;
}

static int die(const char *what, const cpay_status *st) {
  fprintf(stderr, "interop-tool: %s%s%s\n", what, st ? ": " : "", st ? cpay_status_msg(st) : "");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: interop-tool fill|check|roundtrip CASE [FILE]\n");
    return 2;
  }
  const char *mode = argv[1], *name = argv[2];
  const cpay_msg_table *t = NULL;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (strcmp(cases[i].name, name) == 0) t = cases[i].table;
  }
  if (!t) return die("unknown case", NULL);

  int rc = 2;
  cpay_status st;
  cpay_status_clear(&st);
  cpay_arena *a = cpay_arena_new();
  cpay_extreg *reg = a ? cpay_extreg_new(a) : NULL;
  if (!reg || test_messages_proto2_proto_register_extensions(reg) != CPAY_OK) {
    cpay_arena_free(a);
    return die("out of memory", NULL);
  }
  cpay_decode_opts dopts = {0};
  dopts.extreg = reg;
  cpay_encode_opts det = {0};
  det.flags = CPAY_ENCODE_DETERMINISTIC;

  if (strcmp(mode, "fill") == 0) {
    void *msg = fill(name, t, a);
    cpay_bytes out;
    if (!msg) {
      rc = die("out of memory", NULL);
    } else if (cpay_encode(msg, t, a, NULL, &out, &st) != CPAY_OK) {
      rc = die("encode", &st);
    } else {
      rc = fwrite(out.data, 1, out.size, stdout) == out.size ? 0 : die("write", NULL);
    }
  } else if (strcmp(mode, "check") == 0 && argc == 4) {
    FILE *f = fopen(argv[3], "rb");
    cpay_bytes in, got, want;
    void *parsed = cpay_msg_new(t, a), *expected = fill(name, t, a);
    if (!f) {
      perror(argv[3]);
    } else if (!read_stream(f, a, &in) || !parsed || !expected) {
      rc = die("cannot read input", NULL);
    } else if (cpay_decode(in.data, in.size, parsed, t, a, &dopts, &st) != CPAY_OK) {
      rc = die("parse", &st);
    } else if (cpay_encode(parsed, t, a, &det, &got, &st) != CPAY_OK ||
               cpay_encode(expected, t, a, &det, &want, &st) != CPAY_OK) {
      rc = die("encode", &st);
    } else if (got.size != want.size || memcmp(got.data, want.data, got.size) != 0) {
      fprintf(stderr, "interop-tool: %s differs from the expected message (%zu vs %zu bytes)\n",
              argv[3], got.size, want.size);
      rc = 1;
    } else {
      rc = 0;
    }
    if (f) fclose(f);
  } else if (strcmp(mode, "roundtrip") == 0) {
    cpay_bytes in, out;
    void *msg = cpay_msg_new(t, a);
    if (!msg || !read_stream(stdin, a, &in)) {
      rc = die("cannot read stdin", NULL);
    } else if (cpay_decode(in.data, in.size, msg, t, a, &dopts, &st) != CPAY_OK) {
      rc = die("parse", &st);
    } else if (cpay_encode(msg, t, a, NULL, &out, &st) != CPAY_OK) {
      rc = die("encode", &st);
    } else {
      rc = fwrite(out.data, 1, out.size, stdout) == out.size ? 0 : die("write", NULL);
    }
  } else {
    fprintf(stderr, "usage: interop-tool fill|check|roundtrip CASE [FILE]\n");
  }
  cpay_arena_free(a);
  return rc;
}
