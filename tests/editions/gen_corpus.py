#!/usr/bin/python3
"""Writes the input corpus of the editions equivalence test (equiv_driver.c).

  gen_corpus.py DESCRIPTOR_SET OUT SEED FUZZ_CORPUS_DIR INTEROP_DATA_DIR

DESCRIPTOR_SET is `buf build --as-file-descriptor-set` of the proto2/proto3
originals. For each message type compared, random wire-format messages are
built from its descriptor (every field kind, both encodings of repeated
scalars, groups, maps with missing or repeated keys, several members of one
oneof, extensions, MessageSet items, unknown enum values, invalid UTF-8,
non-canonical varints, unknown fields, duplicated singular fields), then
damaged copies of them (truncated, a byte changed, a byte inserted) and a
list of hand-made malformed inputs. The checked-in fuzz corpora
(tests/fuzz/corpus/{decode,json,text}) and the interop test's text messages
are added as they are.

Records: kind (b binary, j JSON, t text), u16 name length, the original's
message full name, u32 data length, data; little-endian.
"""
import os
import random
import struct
import sys

from google.protobuf import descriptor_pb2 as dp

FD = dp.FieldDescriptorProto

TEST_TYPES = [
    # (full name, number of random valid inputs)
    ('protobuf_test_messages.proto2.TestAllTypesProto2', 500),
    ('protobuf_test_messages.proto2.TestAllRequiredTypesProto2', 200),
    ('protobuf_test_messages.proto2.UnknownToTestAllTypes', 40),
    ('protobuf_test_messages.proto3.TestAllTypesProto3', 500),
    ('payments.v1.ChargeRequest', 60),
    ('payments.v1.ChargeResponse', 60),
    ('payments.v1.Transaction', 60),
    ('payments.v1.TransactionStreamRequest', 40),
    ('payments.v1.BatchChargeResponse', 60),
    ('payments.v1.PaymentMessage', 60),
]
ALL_TYPES = ('protobuf_test_messages.proto2.TestAllTypesProto2',
             'protobuf_test_messages.proto3.TestAllTypesProto3')


def varint(v, pad=0):
    """v as a varint; pad > 0 adds that many redundant bytes (non-canonical)."""
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    if pad and len(out) + pad <= 10:
        out[-1] |= 0x80
        out += b'\x80' * (pad - 1) + b'\x00'
    return bytes(out)


def tag(num, wt):
    return varint((num << 3) | wt)


def zigzag(v, bits):
    return ((v << 1) ^ (v >> (bits - 1))) & ((1 << bits) - 1)


class Gen:
    def __init__(self, fds, rnd):
        self.r = rnd
        self.msgs = {}
        self.enums = {}
        self.exts = {}
        for f in fds.file:
            pkg = '.' + f.package if f.package else ''
            for m in f.message_type:
                self._add_msg(pkg, m)
            for e in f.enum_type:
                self.enums[pkg + '.' + e.name] = e
            for x in f.extension:
                self.exts.setdefault(x.extendee, []).append(x)

    def _add_msg(self, scope, m):
        full = scope + '.' + m.name
        self.msgs[full] = m
        for n in m.nested_type:
            self._add_msg(full, n)
        for e in m.enum_type:
            self.enums[full + '.' + e.name] = e
        for x in m.extension:
            self.exts.setdefault(x.extendee, []).append(x)

    # ---- scalars ---------------------------------------------------------
    def int_value(self, bits, signed):
        r = self.r
        if signed:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        else:
            lo, hi = 0, (1 << bits) - 1
        c = r.random()
        if c < 0.3:
            return r.choice([0, 1, -1 if signed else 2, lo, hi, lo + 1, hi - 1, 127, 128, 300])
        if c < 0.6:
            return r.randint(max(lo, -1000), min(hi, 1000))
        return r.randint(lo, hi)

    def scalar(self, f):
        """(wire type, payload bytes) of one random value of f's type."""
        r = self.r
        t = f.type
        if t in (FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_UINT32, FD.TYPE_UINT64):
            bits = 32 if t in (FD.TYPE_INT32, FD.TYPE_UINT32) else 64
            v = self.int_value(bits, t in (FD.TYPE_INT32, FD.TYPE_INT64))
            if t == FD.TYPE_UINT32 and r.random() < 0.05:
                v = r.randint(1 << 32, (1 << 64) - 1)  # truncated to 32 bits by readers
            return 0, varint(v, r.randint(1, 3) if r.random() < 0.05 else 0)
        if t in (FD.TYPE_SINT32, FD.TYPE_SINT64):
            bits = 32 if t == FD.TYPE_SINT32 else 64
            return 0, varint(zigzag(self.int_value(bits, True), bits))
        if t == FD.TYPE_BOOL:
            return 0, varint(r.choice([0, 1, 1, 0, 2, 1 << 40]))
        if t == FD.TYPE_ENUM:
            e = self.enums[f.type_name]
            known = [v.number for v in e.value]
            if r.random() < 0.2:
                v = r.choice([3, 7, 99, -2, 123456, (1 << 31) - 1, -(1 << 31)])
            else:
                v = r.choice(known)
            return 0, varint(v)
        if t in (FD.TYPE_FIXED32, FD.TYPE_SFIXED32):
            return 5, struct.pack('<I', self.int_value(32, False))
        if t in (FD.TYPE_FIXED64, FD.TYPE_SFIXED64):
            return 1, struct.pack('<Q', self.int_value(64, False))
        if t == FD.TYPE_FLOAT:
            v = r.choice([0.0, -0.0, 1.5, -2.25, 1e-45, 3.4e38, float('inf'), float('-inf'),
                          float('nan'), r.uniform(-1e6, 1e6), 0.1])
            return 5, struct.pack('<f', v)
        if t == FD.TYPE_DOUBLE:
            v = r.choice([0.0, -0.0, 1.5, -2.25, 5e-324, 1.7e308, float('inf'), float('-inf'),
                          float('nan'), r.uniform(-1e12, 1e12), 0.1, 1e21, 1e-7])
            return 1, struct.pack('<d', v)
        if t == FD.TYPE_STRING:
            return 2, self.string()
        if t == FD.TYPE_BYTES:
            b = bytes(r.randrange(256) for _ in range(r.choice([0, 1, 3, 8, 20])))
            return 2, varint(len(b)) + b
        raise ValueError(t)

    def string(self):
        r = self.r
        c = r.random()
        if c < 0.03:
            s = r.choice([b'\xff', b'a\xc0\x80', b'\xed\xa0\x80', b'\xe2\x82', b'ok\x80ok'])
        elif c < 0.3:
            s = r.choice(['', 'Rosebud', 'héllo wörld', '\u2603 snow', '\U0001F600', 'a"b\\c\n\t',
                          '\x00\x01\x7f', 'USD']).encode()
        else:
            s = bytes(r.randrange(0x20, 0x7F) for _ in range(r.randint(0, 12)))
        return varint(len(s)) + s

    # ---- messages --------------------------------------------------------
    def field_records(self, f, depth):
        """Wire records for one field occurrence (several for repeated)."""
        r = self.r
        n = f.number
        t = f.type
        if t in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
            sub = self.msgs[f.type_name]
            if sub.options.map_entry:
                recs = []
                for _ in range(r.randint(1, 3)):
                    body = b''
                    kf, vf = sub.field[0], sub.field[1]
                    if r.random() < 0.9:
                        wt, payload = self.scalar(kf)
                        body += tag(1, wt) + payload
                    if r.random() < 0.9:
                        body += b''.join(self.field_records(vf, depth + 1))
                    if r.random() < 0.05:
                        body += tag(3, 0) + varint(5)  # unknown field in the entry
                    recs.append(tag(n, 2) + varint(len(body)) + body)
                    if r.random() < 0.15:
                        recs.append(recs[-1])  # the same key twice: last wins
                return recs
            if depth > 3:
                body = b''
            else:
                body = self.message(f.type_name, depth + 1)
            if t == FD.TYPE_GROUP:
                return [tag(n, 3) + body + tag(n, 4)]
            return [tag(n, 2) + varint(len(body)) + body]
        repeated = f.label == FD.LABEL_REPEATED
        count = r.randint(1, 4) if repeated else 1
        vals = [self.scalar(f) for _ in range(count)]
        wt = vals[0][0]
        if repeated and wt != 2 and r.random() < 0.5:
            # Packed, whatever the field declares: readers accept both.
            body = b''.join(v[1] for v in vals)
            return [tag(n, 2) + varint(len(body)) + body]
        return [tag(n, v[0]) + v[1] for v in vals]

    def message(self, full, depth=0):
        r = self.r
        m = self.msgs[full]
        recs = []
        p = r.choice([0.05, 0.2, 0.5])
        fields = list(m.field) + (self.exts.get(full, []) if r.random() < 0.5 else [])
        for f in fields:
            if f.label == FD.LABEL_REQUIRED and r.random() < 0.9:
                recs += self.field_records(f, depth)
            elif r.random() < p:
                recs += self.field_records(f, depth)
                if f.label != FD.LABEL_REPEATED and r.random() < 0.1:
                    recs += self.field_records(f, depth)  # singular twice: last wins / merge
        if m.options.message_set_wire_format:
            for x in self.exts.get(full, []):
                if r.random() < 0.5:
                    body = self.message(x.type_name, depth + 1) if depth < 3 else b''
                    recs.append(tag(1, 3) + tag(2, 0) + varint(x.number) + tag(3, 2) +
                                varint(len(body)) + body + tag(1, 4))
            if r.random() < 0.2:
                recs.append(tag(1, 3) + tag(2, 0) + varint(777) + tag(3, 2) + varint(2) +
                            b'\x08\x01' + tag(1, 4))
        if r.random() < 0.2:
            recs.append(self.unknown())
        if r.random() < 0.3:
            r.shuffle(recs)
        return b''.join(recs)

    def unknown(self):
        r = self.r
        n = r.choice([1000, 1001, 5000, 9999, 536870911, 999999])
        wt = r.choice([0, 1, 2, 5, 3])
        if wt == 0:
            return tag(n, 0) + varint(r.randrange(1 << 40))
        if wt == 1:
            return tag(n, 1) + bytes(8)
        if wt == 5:
            return tag(n, 5) + b'\x01\x02\x03\x04'
        if wt == 2:
            return tag(n, 2) + b'\x03abc'
        return tag(n, 3) + tag(1, 0) + b'\x05' + tag(n, 4)


def malformed(full):
    """Hand-made broken inputs (every reader must reject them)."""
    out = [
        b'\x00',                          # field 0
        b'\x00\x01',
        b'\x0e\x01',                      # wire type 6
        b'\x0f\x01',                      # wire type 7
        b'\x08',                          # varint missing
        b'\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01',  # 11-byte varint
        b'\x12\x05ab',                    # length past the end
        b'\x12\xff\xff\xff\xff\x0f',      # huge length
        b'\x0c',                          # end group without start
        b'\x0b',                          # start group, no end
        b'\xcb\x0c\x08\x01',              # group 201 without end
        b'\xcb\x0c\xd4\x0c',              # group 201 ended by 202
        b'\x0d\x01\x02',                  # fixed32 cut short
        b'\x09\x01\x02\x03',              # fixed64 cut short
        b'\xfa\x01\x03\x01\x02',          # packed field 31, length past the end
        b'\xaa\x05\x03\x00\x00\x00',      # packed fixed32 (85) with 3 bytes
        b'\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01',  # tag too long
        b'\xf8\xff\xff\xff\xff\x01\x01',  # field number out of range
        b'\x72\x01\xff',                  # field 14 (string) not UTF-8
        b'\xaa\x04\x04\x0a\x02\xff\xfe',  # map_string_string (69): key not UTF-8
        b'\x92\x01\x02\x08\x01' * 2 + b'\x92\x01\x01',  # nested message cut
    ]
    # Nesting: recursive_message (27) 120 deep is past the depth limit of 100.
    body = b''
    for _ in range(120):
        body = b'\xda\x01' + varint(len(body)) + body
    out.append(body)
    body = b''
    for _ in range(60):
        body = b'\xda\x01' + varint(len(body)) + body
    out.append(body)  # within the limit
    return out


def mutate(rnd, data):
    if not data:
        return bytes([rnd.randrange(256)])
    c = rnd.random()
    i = rnd.randrange(len(data))
    if c < 0.4:
        return data[:i]
    if c < 0.7:
        b = bytearray(data)
        b[i] = rnd.choice([0x00, 0xff, 0x80, b[i] ^ (1 << rnd.randrange(8))])
        return bytes(b)
    return data[:i] + bytes([rnd.choice([0x00, 0x80, 0xff, 0x0b, 0x0c, 0x07])]) + data[i:]


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    fds = dp.FileDescriptorSet()
    with open(sys.argv[1], 'rb') as f:
        fds.ParseFromString(f.read())
    seed = int(sys.argv[3])
    fuzz_dir, data_dir = sys.argv[4], sys.argv[5]
    rnd = random.Random(seed)
    gen = Gen(fds, rnd)
    records = []

    def add(kind, name, data):
        records.append((kind, name, data))

    for name, count in TEST_TYPES:
        valid = [gen.message('.' + name) for _ in range(count)]
        for v in valid:
            add('b', name, v)
        for v in valid:
            add('b', name, mutate(rnd, v))
        if name in ALL_TYPES:
            for v in malformed(name):
                add('b', name, v)
    for sub, kind in (('decode', 'b'), ('json', 'j'), ('text', 't')):
        d = os.path.join(fuzz_dir, sub)
        for fn in sorted(os.listdir(d)):
            with open(os.path.join(d, fn), 'rb') as f:
                data = f.read()
            for name in ALL_TYPES:
                add(kind, name, data)
    for fn in sorted(os.listdir(data_dir)):
        if not fn.endswith('.txtpb'):
            continue
        with open(os.path.join(data_dir, fn), 'rb') as f:
            data = f.read()
        if fn.startswith('payments_'):
            add('t', 'payments.v1.' + fn[len('payments_'):-len('.txtpb')], data)
        elif fn == 'proto2_all.txtpb':
            add('t', ALL_TYPES[0], data)
        elif fn == 'proto3_all.txtpb':
            add('t', ALL_TYPES[1], data)
    # A few JSON inputs about presence, enums and names.
    for j in [b'{}', b'{"optionalInt32": 0}', b'{"optionalInt32": null}',
              b'{"optionalNestedEnum": 7}', b'{"optionalNestedEnum": "MOO"}',
              b'{"optionalNestedEnum": "NEG"}', b'{"repeatedNestedEnum": ["FOO", 5]}',
              b'{"optionalString": ""}', b'{"optional_string": "x"}',
              b'{"data": {"groupInt32": 1}}', b'{"Data": {"groupInt32": 1}}',
              b'{"mapStringNestedEnum": {"a": 9}}', b'{"oneofUint32": 0}',
              b'{"[protobuf_test_messages.proto2.extension_int32]": 5}',
              b'{"defaultInt32": -123456789}', b'{"optionalBool": false}']:
        for name in ALL_TYPES:
            add('j', name, j)
    for j in [b'{"description": ""}', b'{"amountCents": "0"}', b'{"transactionId": ""}',
              b'{"status": "CHARGE_STATUS_DECLINED"}', b'{"status": 9}', b'{"sender": "\\ud800"}']:
        for name, _ in TEST_TYPES[4:]:
            add('j', name, j)
    for t in [b'', b'optional_int32: 0', b'Data { group_int32: 1 }', b'data { group_int32: 1 }',
              b'optional_nested_enum: 7', b'optional_nested_enum: NEG',
              b'[protobuf_test_messages.proto2.extension_int32]: 5',
              b'[protobuf_test_messages.proto2.groupfield] { group_int32: 2 }',
              b'MultiWordGroupField { group_int32: 3 }', b'optional_string: "\\377"',
              b'oneof_uint32: 0 oneof_string: ""']:
        for name in ALL_TYPES:
            add('t', name, t)
    with open(sys.argv[2], 'wb') as out:
        for kind, name, data in records:
            nb = name.encode()
            out.write(kind.encode() + struct.pack('<H', len(nb)) + nb +
                      struct.pack('<I', len(data)) + data)
    print('gen_corpus: %d inputs' % len(records))


if __name__ == '__main__':
    main()
