// Runs the golden code of editions_delimited (expected/delimited.cpay.c, kept
// current by golden_editions_delimited) against libcpay: DELIMITED fields go
// on the wire as groups, and the text format names a group-like field
// (`Label label`) by its type and any other delimited field (`Point origin`)
// by its own name, accepting no other spelling, as protobuf's text format
// does (IsGroupLike). Exit status 0 when every check passes.
#include <stdio.h>
#include <string.h>

#include "delimited.cpay.h"

static int failures;

#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                \
    }                                                            \
  } while (0)

// Whether `text` parses as a Shape.
static int parses(cpay_arena *arena, const char *text) {
  golden_delimited_Shape *m = NULL;
  cpay_status st;
  cpay_status_clear(&st);
  return golden_delimited_Shape_from_text(text, strlen(text), arena, NULL, &m, &st) == CPAY_OK;
}

int main(void) {
  cpay_arena *arena = cpay_arena_new();
  cpay_status st;
  cpay_status_clear(&st);

  golden_delimited_Shape *shape = golden_delimited_Shape_new(arena);
  golden_delimited_Point_set_x(golden_delimited_Shape_mutable_origin(shape, arena), 1);
  golden_delimited_Shape_Label_set_text(golden_delimited_Shape_mutable_label(shape, arena),
                                        (cpay_str){"a", 1});
  golden_delimited_Shape_set_id(shape, 7);

  // Binary: origin (1) and label (2) between start-group and end-group tags.
  cpay_bytes bin;
  CHECK(golden_delimited_Shape_serialize(shape, arena, &bin, &st) == CPAY_OK);
  static const uint8_t want[] = {0x0b, 0x08, 0x01, 0x0c,             // origin { x: 1 }
                                 0x13, 0x0a, 0x01, 'a', 0x14,       // Label { text: "a" }
                                 0x40, 0x07};                        // id: 7
  CHECK(bin.size == sizeof want && memcmp(bin.data, want, sizeof want) == 0);
  golden_delimited_Shape *back = NULL;
  CHECK(golden_delimited_Shape_parse(bin.data, bin.size, arena, &back, &st) == CPAY_OK);
  CHECK(back != NULL && back->origin != NULL && back->origin->x == 1 && back->label != NULL);

  // Text: the field name for origin, the type name for the group-like label.
  cpay_str text;
  CHECK(golden_delimited_Shape_to_text(shape, arena, NULL, &text, &st) == CPAY_OK);
  CHECK(strstr(text.data, "origin {") != NULL);
  CHECK(strstr(text.data, "Label {") != NULL);
  CHECK(strstr(text.data, "Point") == NULL && strstr(text.data, "label") == NULL);
  golden_delimited_Shape *parsed = NULL;
  CHECK(golden_delimited_Shape_from_text(text.data, text.size, arena, NULL, &parsed, &st) ==
        CPAY_OK);
  CHECK(parsed != NULL && parsed->origin != NULL && parsed->origin->x == 1);

  CHECK(parses(arena, "id: 1 origin { x: 2 }"));
  CHECK(parses(arena, "id: 1 Label { text: \"b\" }"));
  CHECK(!parses(arena, "id: 1 Point { x: 2 }"));   // not group-like: no type name
  // Group-like: the field name too (protobuf since v26; conformance
  // DelimitedFieldLowercased).
  CHECK(parses(arena, "id: 1 label { text: \"b\" }"));
  CHECK(parses(arena, "id: 1 points { x: 1 } points { y: 2 }"));

  cpay_arena_free(arena);
  printf("delimited: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
