// Interop of cpay with protobuf-es 2.x on edition 2023 schemas
// (proto/interop_e23.proto and the conformance suite's
// proto/conformance/test_protos/test_messages_edition2023.proto), run by
// editions_test.py:
//
//   node interop.mjs ES_CACHE DESCRIPTOR_SET E23_TOOL
//
// ES_CACHE holds node_modules/@bufbuild/protobuf; DESCRIPTOR_SET is
// `buf build --as-file-descriptor-set` of both files, which protobuf-es
// turns into its schema at run time (createFileRegistry: no code
// generation); E23_TOOL is e23_tool.c built against the code
// protoc-gen-cpay generated from the same files.
//
// JSON cases (hand-written, then random messages from a seeded generator,
// CPAY_EDITIONS_SEED): protobuf-es reads the JSON, then (1) cpay reads the same JSON
// and writes binary, which protobuf-es decodes; (2) protobuf-es writes
// binary, which cpay decodes and writes back as binary and as JSON, which
// protobuf-es reads again; (3) cpay reads protobuf-es's JSON. Each message
// protobuf-es gets back must equal the first, field by field (presence,
// values, unknown fields), and both JSON texts must be equal as JSON.
// Binary cases: hand-made wire bytes (closed enum values they do not list,
// groups for DELIMITED fields, both repeated encodings, implicit zeros,
// invalid UTF-8, missing required fields): both decode them (or both
// reject them), cpay's re-encoding decoded by protobuf-es must equal
// protobuf-es's own decoding, and the JSON must agree. Where protobuf-es
// departs from the editions spec (see KNOWN below) cpay's output is checked
// against the spec's bytes instead and the departure is printed.
// Exit status 1 on any disagreement, 2 when the script itself fails.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// A crash is not a disagreement: exit status 2, never 1.
process.on('uncaughtException', (e) => {
  console.error('interop.mjs:', e);
  process.exit(2);
});

const [esCache, dsetPath, tool] = process.argv.slice(2);
if (!tool) {
  console.error('usage: node interop.mjs ES_CACHE DESCRIPTOR_SET E23_TOOL');
  process.exit(2);
}
const require = createRequire(path.join(esCache, 'node_modules', 'index.js'));
const pb = require('@bufbuild/protobuf');
const wkt = require('@bufbuild/protobuf/wkt');
const esVersion = JSON.parse(readFileSync(
  path.join(esCache, 'node_modules', '@bufbuild', 'protobuf', 'package.json'))).version;
const { reflect } = require('@bufbuild/protobuf/reflect');

const set = pb.fromBinary(wkt.FileDescriptorSetSchema, readFileSync(dsetPath));
const registry = pb.createFileRegistry(set);
const schema = (name) => {
  const d = registry.getMessage(name.includes('.') ? name : 'interop.e23.' + name);
  if (!d) throw new Error('no message ' + name + ' in ' + dsetPath);
  return d;
};

// ---- wire bytes for the binary cases ------------------------------------
function varint(v) {
  let n = BigInt.asUintN(64, BigInt(v));
  const out = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}
const tag = (no, wt) => varint((no << 3) | wt);
const vf = (no, v) => [...tag(no, 0), ...varint(v)];
const lenf = (no, bytes) => [...tag(no, 2), ...varint(bytes.length), ...bytes];
const str = (s) => [...Buffer.from(s, 'utf8')];
const group = (no, bytes) => [...tag(no, 3), ...bytes, ...tag(no, 4)];
const hex = (b) => Buffer.from(b).toString('hex');

// ---- cpay ------------------------------------------------------------------
function cpay(type, mode, input) {
  const full = type.includes('.') ? type : 'interop.e23.' + type;
  const r = spawnSync(tool, [full, mode], { input: Buffer.from(input) });
  if (r.error) throw r.error;
  if (r.status === 0) return { ok: true, out: new Uint8Array(r.stdout) };
  if (r.status === 1) return { ok: false, err: r.stderr.toString().trim() };
  throw new Error(`e23-tool ${type} ${mode}: exit ${r.status}: ${r.stderr}`);
}

function attempt(f) {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, err: String(e.message || e) };
  }
}

// ---- field-by-field comparison -------------------------------------------
// float fields compare as float32: protobuf-es keeps a float read from JSON
// at double precision (82.835396 stays that, not the float32
// 82.83539581298828 that binary gives) and prints a float's double
// expansion; cpay prints the shortest text that reads back as the same
// float32. Both are the same float.
const FLOAT = 2;
function sameScalar(a, b, scalar) {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && hex(a) === hex(b);
  }
  if (scalar === FLOAT && typeof a === 'number' && typeof b === 'number') {
    return Object.is(Math.fround(a), Math.fround(b));
  }
  return typeof a === typeof b && Object.is(a, b);
}
const show = (v) =>
  v instanceof Uint8Array ? 'bytes:' + hex(v) : typeof v === 'bigint' ? v + 'n' : JSON.stringify(v);

function fieldValue(msg, f) {
  if (f.oneof) {
    const o = msg[f.oneof.localName];
    return o && o.case === f.localName ? o.value : undefined;
  }
  return msg[f.localName];
}

function unknownOf(msg) {
  return (msg.$unknown || []).map((u) => `${u.no}/${u.wireType}:${hex(u.data)}`);
}

// Differences between a and b (messages of desc), as "path: what" lines.
function diff(desc, a, b, where, out) {
  const ra = pb.isMessage(a) ? a : null;
  const rb = pb.isMessage(b) ? b : null;
  if (!ra || !rb) {
    out.push(`${where}: not a message`);
    return out;
  }
  const ea = reflect(desc, a);
  const eb = reflect(desc, b);
  for (const f of desc.fields) {
    const p = `${where}.${f.name}`;
    const sa = ea.isSet(f);
    const sb = eb.isSet(f);
    if (sa !== sb) {
      out.push(`${p}: ${sa ? 'set' : 'not set'} vs ${sb ? 'set' : 'not set'}`);
      continue;
    }
    const va = fieldValue(a, f);
    const vb = fieldValue(b, f);
    switch (f.fieldKind) {
      case 'scalar':
      case 'enum':
        if (!sameScalar(va, vb, f.scalar)) out.push(`${p}: ${show(va)} vs ${show(vb)}`);
        break;
      case 'message':
        if (sa) diff(f.message, va, vb, p, out);
        break;
      case 'list':
        if (va.length !== vb.length) {
          out.push(`${p}: ${va.length} vs ${vb.length} elements ` +
            `(${va.map(show).join(',')} vs ${vb.map(show).join(',')})`);
          break;
        }
        for (let i = 0; i < va.length; i++) {
          if (f.listKind === 'message') diff(f.message, va[i], vb[i], `${p}[${i}]`, out);
          else if (!sameScalar(va[i], vb[i], f.scalar)) out.push(`${p}[${i}]: ${show(va[i])} vs ${show(vb[i])}`);
        }
        break;
      case 'map': {
        const ka = Object.keys(va).sort();
        const kb = Object.keys(vb).sort();
        if (ka.join('\u0000') !== kb.join('\u0000')) {
          out.push(`${p}: keys ${JSON.stringify(ka)} vs ${JSON.stringify(kb)}`);
          break;
        }
        for (const k of ka) {
          if (f.mapKind === 'message') diff(f.message, va[k], vb[k], `${p}[${k}]`, out);
          else if (!sameScalar(va[k], vb[k], f.scalar)) out.push(`${p}[${k}]: ${show(va[k])} vs ${show(vb[k])}`);
        }
        break;
      }
    }
  }
  const ua = unknownOf(a).join(' ');
  const ub = unknownOf(b).join(' ');
  if (ua !== ub) out.push(`${where}: unknown fields [${ua}] vs [${ub}]`);
  return out;
}

// JSON texts of a message of `desc`, equal field by field (float fields as
// float32, see sameScalar).
function jsonEq(desc, x, y) {
  if (!desc || x === null || y === null || typeof x !== 'object' || typeof y !== 'object' ||
      Array.isArray(x) || Array.isArray(y)) {
    return jsonEqual(x, y);
  }
  const kx = Object.keys(x).sort();
  const ky = Object.keys(y).sort();
  if (kx.join('\u0000') !== ky.join('\u0000')) return false;
  return kx.every((k) => {
    const f = desc.fields.find((g) => g.jsonName === k);
    if (!f) return jsonEqual(x[k], y[k]);
    const one = (a, b, kind) => kind === 'message' ? jsonEq(f.message, a, b)
      : kind === 'scalar' && f.scalar === FLOAT && typeof a === 'number' && typeof b === 'number'
        ? Object.is(Math.fround(a), Math.fround(b)) : jsonEqual(a, b);
    switch (f.fieldKind) {
      case 'list':
        return Array.isArray(x[k]) && Array.isArray(y[k]) && x[k].length === y[k].length &&
          x[k].every((a, i) => one(a, y[k][i], f.listKind));
      case 'map': {
        const mx = Object.keys(x[k]).sort();
        const my = Object.keys(y[k]).sort();
        return mx.join('\u0000') === my.join('\u0000') && mx.every((m) => one(x[k][m], y[k][m], f.mapKind));
      }
      default:
        return one(x[k], y[k], f.fieldKind);
    }
  });
}

function jsonEqual(x, y) {
  if (typeof x !== typeof y) return false;
  if (x === null || typeof x !== 'object') return Object.is(x, y);
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x).sort();
  const ky = Object.keys(y).sort();
  return kx.join('\u0000') === ky.join('\u0000') && kx.every((k) => jsonEqual(x[k], y[k]));
}

// ---- the cases ----------------------------------------------------------------
const JSON_CASES = [
  ['empty', 'Everything', {}],
  ['explicit and implicit zeros', 'Everything', {
    explicitI32: 0, implicitI32: 0, implicitStr: '', implicitBytes: '', implicitDouble: 0,
    explicitI64Default: '42', explicitStrDefault: 'hello', color: 'COLOR_UNSPECIFIED',
    implicitColor: 'COLOR_UNSPECIFIED', size: 'SIZE_SMALL',
  }],
  ['scalars', 'Everything', {
    explicitI32: -5, implicitI32: 2147483647, implicitStr: 'h\u00e9llo \u2603',
    implicitBytes: 'AQID/w==', implicitDouble: 1.5, explicitI64Default: '-9007199254740993',
    explicitStrDefault: '',
  }],
  ['enums', 'Everything', {
    color: 'COLOR_RED', implicitColor: 'COLOR_GREEN', size: 'SIZE_LARGE',
    sizesPacked: ['SIZE_LARGE', 'SIZE_SMALL', 'SIZE_LARGE'], sizesExpanded: ['SIZE_MEDIUM'],
    colors: ['COLOR_RED', 'COLOR_UNSPECIFIED'], levelByName: { a: 'LEVEL_HIGH', '': 'LEVEL_ZERO', b: 'LEVEL_LOW' },
    sizeWithDefault: 'SIZE_LARGE',
  }],
  ['open enum values not listed', 'Everything', { color: 7, implicitColor: 9, colors: [5, 1] }],
  ['delimited and length-prefixed messages', 'Everything', {
    delimited: { x: 1, y: -1, label: 'd' }, delimitedList: [{ x: 1 }, {}, { label: 'z' }],
    lengthPrefixed: { label: 'lp' }, inner: { v: 3 }, pointById: { 1: { x: 2 }, '-3': {} },
  }],
  ['empty delimited message', 'Everything', { delimited: {}, inner: {} }],
  ['repeated encodings', 'Everything', {
    packedI32: [1, -1, 0, 2147483647], expandedI32: [0, -2147483648],
    packedS64: ['-1', '9223372036854775807', '-9223372036854775808'],
    expandedDouble: [0.5, 'NaN', 'Infinity', '-Infinity', 1e300, 5e-324], packedF32: [0, 4294967295],
    expandedBool: [true, false, true],
  }],
  ['utf8', 'Everything', { utf8None: 'ok \u2603', utf8Verify: '\u00e9\ud83d\ude00', utf8NoneList: ['a', ''] }],
  ['required set', 'Everything', { needs: { id: 0 }, needsList: [{ id: 1, note: 'n' }, { id: -7 }] }],
  ['implicit presence in a message', 'Tagged', { n: 0, s: '', e: 0, p: {} }],
  ['implicit presence set', 'Tagged', { n: 3, s: 'x', p: { x: 1 } }],
  ['oneof int zero', 'Everything', { choiceI32: 0 }],
  ['oneof closed enum', 'Everything', { choiceSize: 'SIZE_MEDIUM' }],
  ['oneof delimited', 'Everything', { choiceDelimited: { x: 5, label: 'g' } }],
  ['oneof empty string', 'Everything', { choiceStr: '' }],
  ['nested', 'Everything', {
    tagged: { n: 1, p: { y: 2 } }, delimited: { label: 'a' }, needs: { id: 5 },
    sizesPacked: ['SIZE_MEDIUM'], packedI32: [3],
  }],
  ['required', 'Needs', { id: 3, note: 'r' }],
];

// A message whose required field is missing: both refuse to encode it.
const MISSING_REQUIRED_JSON = [
  ['required missing in a submessage', 'Everything', { needs: { note: 'x' } }],
  ['required missing', 'Needs', { note: 'x' }],
];

// Binary cases: [name, type, bytes, expectation]; expectation 'reject' when
// both must refuse the input.
const BIN_CASES = [
  ['closed enum, value not listed -> unknown field', 'Everything', vf(12, 7)],
  ['closed enum, listed then not listed', 'Everything', [...vf(12, 2), ...vf(12, 9)]],
  ['closed enum in a oneof, not listed', 'Everything', vf(71, 6)],
  ['closed enum with a default, not listed', 'Everything', vf(17, 0)],
  ['open enum, not listed', 'Everything', [...vf(10, 42), ...vf(11, 0)]],
  ['DELIMITED field as a group', 'Everything', group(20, [...vf(1, 1), ...lenf(3, str('g'))])],
  ['DELIMITED repeated and group-like', 'Everything',
    [...group(21, vf(1, 1)), ...group(21, []), ...group(23, vf(1, 9))]],
  ['DELIMITED in a oneof', 'Everything', group(72, vf(2, 4))],
  ['LENGTH_PREFIXED field', 'Everything', lenf(22, vf(1, 3))],
  ['group not closed', 'Everything', [...tag(20, 3), ...vf(1, 1)], 'reject'],
  ['group closed by another number', 'Everything', [...tag(20, 3), ...vf(1, 1), ...tag(21, 4)], 'reject'],
  ['implicit zero on the wire', 'Everything', [...vf(2, 0), ...lenf(3, []), ...vf(11, 0)]],
  ['explicit zero on the wire', 'Everything', [...vf(1, 0), ...vf(6, 0), ...lenf(7, [])]],
  ['packed field sent expanded', 'Everything', [...vf(30, 1), ...vf(30, 2)]],
  ['expanded field sent packed', 'Everything', lenf(31, [...varint(5), ...varint(-1)])],
  ['both encodings mixed', 'Everything', [...lenf(30, [1, 2]), ...vf(30, 3), ...lenf(34, [1, 0, 0, 0])]],
  ['utf8_validation NONE with valid text', 'Everything', lenf(40, str('fine'))],
  ['utf8_validation VERIFY, not UTF-8', 'Everything', lenf(41, [0x61, 0xff]), 'reject'],
  ['required present', 'Everything', lenf(50, vf(1, 0))],
  ['unknown fields kept', 'Everything', [...vf(99, 1), ...lenf(100, [1, 2]), ...tag(101, 5), 1, 2, 3, 4]],
  ['oneof: last member wins', 'Everything', [...vf(70, 5), ...lenf(73, str('s'))]],
  ['map entry without a value (closed enum)', 'Everything', lenf(16, lenf(1, str('k')))],
  ['map entry with a listed closed enum', 'Everything', lenf(16, [...lenf(1, str('k')), ...vf(2, 2)])],
  ['implicit presence message', 'Tagged', [...vf(1, 0), ...lenf(2, []), ...vf(4, 0), ...lenf(3, [])]],
  ['truncated', 'Everything', [...tag(3, 2), 5, 0x61], 'reject'],
];

// Where protobuf-es 2.x departs from the spec, cpay must give the spec's
// answer: [name, type, input, cpay's re-encoding (hex; null: cpay rejects
// the input), what protobuf-es does, cpay's JSON ('error': none, since JSON
// cannot hold the value)].
const KNOWN = [
  ['closed enum, packed repeated, value not listed', 'Everything',
    lenf(13, [1, 9, 3]), hex([...lenf(13, [1, 3]), ...vf(13, 9)]),
    'keeps 9 in the list instead of an unknown field', { sizesPacked: ['SIZE_SMALL', 'SIZE_LARGE'] }],
  ['closed enum, expanded repeated, value not listed', 'Everything',
    [...vf(14, 2), ...vf(14, 5)], hex([...vf(14, 2), ...vf(14, 5)]),
    'keeps 5 in the list instead of an unknown field', { sizesExpanded: ['SIZE_MEDIUM'] }],
  ['closed enum map value not listed', 'Everything',
    lenf(16, [...lenf(1, str('k')), ...vf(2, 8)]), hex(lenf(16, [...lenf(1, str('k')), ...vf(2, 8)])),
    'keeps the entry in the map instead of an unknown field', {}],
  ['utf8_validation NONE, not UTF-8', 'Everything', lenf(40, [0x61, 0xff]), hex(lenf(40, [0x61, 0xff])),
    'replaces the byte with U+FFFD (JavaScript strings hold text only)', 'error'],
  ['required missing in a submessage', 'Everything', lenf(50, lenf(2, str('x'))), null,
    'decodes it (protobuf-es checks required fields when encoding only)', null],
];

// ---- running -----------------------------------------------------------------
let failures = 0;
let checks = 0;
let byteSame = 0;
let byteCompared = 0;
function check(name, what, problems) {
  checks++;
  if (problems.length) {
    failures++;
    console.log(`FAIL ${name}: ${what}`);
    for (const p of problems) console.log('    ' + p);
  }
}

function esDecode(desc, bytes) {
  return attempt(() => pb.fromBinary(desc, bytes));
}

function runJsonCase(name, type, json) {
  const desc = schema(type);
  const m = pb.fromJson(desc, json);
  const esBin = pb.toBinary(desc, m);
  const esJson = pb.toJson(desc, m);
  // (1) cpay reads the JSON and writes binary.
  const c1 = cpay(type, 'json2bin', JSON.stringify(json));
  if (!c1.ok) {
    check(name, 'cpay rejects JSON that protobuf-es reads', [c1.err]);
    return;
  }
  const d1 = esDecode(desc, c1.out);
  check(name, 'protobuf-es decodes cpay binary from JSON', d1.ok ? diff(desc, m, d1.value, type, []) : [d1.err]);
  byteCompared++;
  if (hex(c1.out) === hex(esBin)) byteSame++;
  else console.log(`note ${name}: encodings differ: cpay ${hex(c1.out)} protobuf-es ${hex(esBin)}`);
  // (2) cpay decodes protobuf-es's binary, writes binary and JSON.
  const c2 = cpay(type, 'bin2bin', esBin);
  const d2 = c2.ok ? esDecode(desc, c2.out) : { ok: false, err: 'cpay: ' + c2.err };
  check(name, 'binary protobuf-es -> cpay -> protobuf-es', d2.ok ? diff(desc, m, d2.value, type, []) : [d2.err]);
  const c3 = cpay(type, 'bin2json', esBin);
  if (!c3.ok) {
    check(name, 'cpay writes JSON of protobuf-es binary', [c3.err]);
  } else {
    const cj = JSON.parse(Buffer.from(c3.out).toString());
    check(name, 'JSON of cpay and protobuf-es', jsonEq(desc, cj, esJson) ? [] :
      [`cpay ${JSON.stringify(cj)}`, `protobuf-es ${JSON.stringify(esJson)}`]);
    const d3 = attempt(() => pb.fromJson(desc, cj));
    check(name, 'protobuf-es reads cpay JSON', d3.ok ? diff(desc, m, d3.value, type, []) : [d3.err]);
  }
  // (3) cpay reads protobuf-es's JSON.
  const c4 = cpay(type, 'json2json', pb.toJsonString(desc, m));
  if (!c4.ok) {
    check(name, 'cpay reads protobuf-es JSON', [c4.err]);
  } else {
    const cj = JSON.parse(Buffer.from(c4.out).toString());
    check(name, 'JSON protobuf-es -> cpay -> JSON', jsonEq(desc, cj, esJson) ? [] :
      [`cpay ${JSON.stringify(cj)}`, `protobuf-es ${JSON.stringify(esJson)}`]);
  }
}

for (const [name, type, json] of JSON_CASES) runJsonCase(name, type, json);
// The same on the edition 2024 copy of the schema.
for (const [name, type, json] of JSON_CASES) runJsonCase('2024: ' + name, 'interop.e24.' + type, json);

// Random messages: every field set or not at random, with random values of
// its type (a fixed seed: the same cases every run).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const RANDOM_SEED = Number(process.env.CPAY_EDITIONS_SEED || 20);
const RANDOM_COUNT = 150;
const rand = rng(RANDOM_SEED);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const randBig = (bits, signed) => {
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(randInt(0, 0xffff));
  v = BigInt.asUintN(bits, v);
  return signed ? BigInt.asIntN(bits, v) : v;
};
const SCALAR_NAMES = {
  1: 'double', 2: 'float', 3: 'int64', 4: 'uint64', 5: 'int32', 6: 'fixed64', 7: 'fixed32',
  8: 'bool', 9: 'string', 12: 'bytes', 13: 'uint32', 15: 'sfixed32', 16: 'sfixed64',
  17: 'sint32', 18: 'sint64',
};
function randomScalar(scalar) {
  const t = SCALAR_NAMES[scalar];
  const edge = rand() < 0.3;
  switch (t) {
    case 'double':
      return edge ? pick([0, -1.5, 1e300, 5e-324, 'NaN', 'Infinity', '-Infinity']) : rand() * 2e6 - 1e6;
    case 'float':
      return edge ? pick([0, 1.5, 'NaN']) : Math.fround(rand() * 100);
    case 'int32': case 'sint32': case 'sfixed32':
      return edge ? pick([0, -1, 2147483647, -2147483648]) : randInt(-100000, 100000);
    case 'uint32': case 'fixed32':
      return edge ? pick([0, 4294967295]) : randInt(0, 100000);
    case 'int64': case 'sint64': case 'sfixed64':
      return String(edge ? pick([0n, -1n, 9223372036854775807n, -9223372036854775808n]) : randBig(64, true));
    case 'uint64': case 'fixed64':
      return String(edge ? pick([0n, 18446744073709551615n]) : randBig(64, false));
    case 'bool':
      return rand() < 0.5;
    case 'string':
      return edge ? pick(['', '\u00e9t\u00e9', '\u2603', '\ud83d\ude00', 'a"b\\c\n']) :
        Array.from({ length: randInt(0, 8) }, () => String.fromCharCode(randInt(0x20, 0x7e))).join('');
    case 'bytes':
      return Buffer.from(Array.from({ length: randInt(0, 6) }, () => randInt(0, 255))).toString('base64');
  }
  throw new Error('scalar ' + scalar);
}
function randomEnum(e) {
  if (e.open && rand() < 0.15) return randInt(3, 9);
  return pick(e.values).name;
}
function randomMessage(desc, depth) {
  const out = {};
  const p = pick([0.2, 0.4, 0.7]);
  const oneofDone = new Set();
  for (const f of desc.fields) {
    const required = f.presence === 3;
    if (!required && rand() >= p) continue;
    if (f.oneof) {
      if (oneofDone.has(f.oneof)) continue;
      oneofDone.add(f.oneof);
    }
    const value = () => {
      if (f.fieldKind === 'message' || (f.fieldKind === 'list' && f.listKind === 'message')) {
        return depth < 2 ? randomMessage(f.message, depth + 1) : (f.message.name === 'Needs' ? { id: 1 } : {});
      }
      if (f.fieldKind === 'enum' || (f.fieldKind === 'list' && f.listKind === 'enum')) return randomEnum(f.enum);
      return randomScalar(f.scalar);
    };
    if (f.fieldKind === 'list') {
      out[f.jsonName] = Array.from({ length: randInt(0, 3) }, value);
    } else if (f.fieldKind === 'map') {
      const m = {};
      for (let i = randInt(0, 3); i > 0; i--) {
        const kt = SCALAR_NAMES[f.mapKey];
        const k = kt === 'string' ? pick(['', 'a', 'k', '\u00e9']) : kt === 'bool' ? pick(['true', 'false'])
          : String(randomScalar(f.mapKey));
        m[k] = f.mapKind === 'message' ? (depth < 2 ? randomMessage(f.message, depth + 1) : {})
          : f.mapKind === 'enum' ? randomEnum(f.enum) : randomScalar(f.scalar);
      }
      out[f.jsonName] = m;
    } else {
      out[f.jsonName] = value();
    }
  }
  return out;
}
const randomBefore = failures;
const E2023 = 'protobuf_test_messages.editions.TestAllTypesEdition2023';
for (let i = 0; i < RANDOM_COUNT; i++) {
  const type = i % 10 === 9 ? 'Tagged' : i % 3 === 2 ? E2023 : i % 5 === 4 ? 'interop.e24.Everything'
    : 'Everything';
  const json = randomMessage(schema(type), 0);
  runJsonCase(`random ${i} ${type} ${JSON.stringify(json).slice(0, 200)}`, type, json);
}
const randomFailures = failures - randomBefore;

// Random wire bytes: every field present or not at random, repeated
// scalars packed or expanded whatever they declare, messages
// length-prefixed or delimited as declared, singular fields given twice
// (last wins, messages merge), several members of a oneof, maps with
// repeated keys, closed enum values the enum does not list in singular
// fields, and unknown fields. Closed enums in repeated fields and maps get
// listed values only (protobuf-es departs from the spec there: see KNOWN).
function wireScalar(scalar) {
  const t = SCALAR_NAMES[scalar];
  const b = Buffer.alloc(8);
  switch (t) {
    case 'int32': return [0, varint(pick([0, -1, 2147483647, -2147483648, randInt(-1000, 1000)]))];
    case 'uint32': return [0, varint(pick([0, 4294967295, randInt(0, 100000)]))];
    case 'int64': case 'uint64': return [0, varint(randBig(64, false))];
    case 'sint32': { const v = randInt(-100000, 100000); return [0, varint((v << 1) ^ (v >> 31) >>> 0)]; }
    case 'sint64': { const v = randBig(64, true); return [0, varint(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)))]; }
    case 'bool': return [0, varint(pick([0, 1, 1, 2]))];
    case 'fixed32': case 'sfixed32': b.writeUInt32LE(randInt(0, 0xffffffff)); return [5, [...b.subarray(0, 4)]];
    case 'fixed64': case 'sfixed64': b.writeBigUInt64LE(randBig(64, false)); return [1, [...b]];
    case 'float': b.writeFloatLE(pick([0, -2.5, 1e-40, Infinity, rand() * 1e6])); return [5, [...b.subarray(0, 4)]];
    case 'double': b.writeDoubleLE(pick([0, -0.5, 1e300, 5e-324, -Infinity, rand() * 1e12])); return [1, [...b]];
    case 'string': {
      const v = pick(['', 'x', '\u00e9t\u00e9', '\u2603', '\ud83d\ude00', 'a\u0000b']);
      return [2, lenBytes(str(v))];
    }
    case 'bytes': return [2, lenBytes(Array.from({ length: randInt(0, 5) }, () => randInt(0, 255)))];
  }
  throw new Error('scalar ' + scalar);
}
const lenBytes = (bytes) => [...varint(bytes.length), ...bytes];
function wireEnum(e, singular) {
  if (e.open) return varint(pick([...e.values.map((v) => v.number), 7, -3]));
  if (singular && rand() < 0.25) return varint(pick([7, 99, -3]));
  return varint(pick(e.values).number);
}
function wireMessage(desc, depth) {
  const recs = [];
  const p = pick([0.15, 0.35, 0.6]);
  for (const f of desc.fields) {
    if (f.presence !== 3 && rand() >= p) continue;
    const times = f.fieldKind === 'list' || f.fieldKind === 'map' ? randInt(1, 3) : rand() < 0.15 ? 2 : 1;
    for (let t = 0; t < times; t++) recs.push(wireField(f, depth));
  }
  if (rand() < 0.2) recs.push([...vf(pick([900, 1000, 5000]), randInt(0, 1000))]);
  if (rand() < 0.3) recs.sort(() => rand() - 0.5);
  return recs.flat();
}
function wireSub(f, msgDesc, depth) {
  const body = depth < 2 ? wireMessage(msgDesc, depth + 1) : [];
  return f.delimitedEncoding ? group(f.number, body) : lenf(f.number, body);
}
function wireField(f, depth) {
  const n = f.number;
  switch (f.fieldKind) {
    case 'scalar': { const [wt, v] = wireScalar(f.scalar); return [...tag(n, wt), ...v]; }
    case 'enum': return [...tag(n, 0), ...wireEnum(f.enum, true)];
    case 'message': return wireSub(f, f.message, depth);
    case 'list': {
      if (f.listKind === 'message') return wireSub(f, f.message, depth);
      const vals = Array.from({ length: randInt(1, 3) }, () =>
        f.listKind === 'enum' ? [0, wireEnum(f.enum, false)] : wireScalar(f.scalar));
      if (vals[0][0] !== 2 && rand() < 0.5) return lenf(n, vals.flatMap((v) => v[1]));
      return vals.flatMap(([wt, v]) => [...tag(n, wt), ...v]);
    }
    case 'map': {
      const entry = [];
      if (rand() < 0.9) { const [wt, v] = wireScalar(f.mapKey); entry.push(...tag(1, wt), ...v); }
      if (rand() < 0.9) {
        if (f.mapKind === 'message') entry.push(...lenf(2, depth < 2 ? wireMessage(f.message, depth + 1) : []));
        else if (f.mapKind === 'enum') entry.push(...tag(2, 0), ...wireEnum(f.enum, false));
        else { const [wt, v] = wireScalar(f.scalar); entry.push(...tag(2, wt), ...v); }
      }
      return lenf(n, entry);
    }
  }
  throw new Error('field kind ' + f.fieldKind);
}
const WIRE_COUNT = 150;
const wireBefore = failures;
for (let i = 0; i < WIRE_COUNT; i++) {
  const type = i % 3 === 2 ? E2023 : i % 5 === 4 ? 'interop.e24.Everything' : 'Everything';
  const desc = schema(type);
  const bytes = wireMessage(desc, 0);
  const name = `wire ${i} ${type} ${hex(bytes).slice(0, 120)}`;
  const es = esDecode(desc, new Uint8Array(bytes));
  const c = cpay(type, 'bin2bin', bytes);
  if (!es.ok || !c.ok) {
    check(name, 'both decode it', [...(es.ok ? [] : ['protobuf-es: ' + es.err]), ...(c.ok ? [] : ['cpay: ' + c.err])]);
    continue;
  }
  const d = esDecode(desc, c.out);
  check(name, 'cpay re-encoding decoded by protobuf-es', d.ok ? diff(desc, es.value, d.value, type, []) : [d.err]);
  const esBin = pb.toBinary(desc, es.value);
  byteCompared++;
  if (hex(c.out) === hex(esBin)) byteSame++;
  const cj = cpay(type, 'bin2json', bytes);
  const esJson = attempt(() => pb.toJson(desc, es.value));
  check(name, 'JSON', !cj.ok || !esJson.ok ? [cj.ok ? '' : 'cpay: ' + cj.err, esJson.ok ? '' : 'protobuf-es: ' + esJson.err]
    : jsonEq(desc, JSON.parse(Buffer.from(cj.out).toString()), esJson.value) ? [] :
      [`cpay ${Buffer.from(cj.out).toString()}`, `protobuf-es ${JSON.stringify(esJson.value)}`]);
}
const wireFailures = failures - wireBefore;

for (const [name, type, json] of MISSING_REQUIRED_JSON) {
  const desc = schema(type);
  const m = pb.fromJson(desc, json);
  const es = attempt(() => pb.toBinary(desc, m));
  const c = cpay(type, 'json2bin', JSON.stringify(json));
  check(name, 'both refuse to encode a missing required field',
    [...(es.ok ? ['protobuf-es encoded it: ' + hex(es.value)] : []),
      ...(c.ok ? ['cpay encoded it: ' + hex(c.out)] : [])]);
}

for (const [name, type, bytes, expect] of BIN_CASES) {
  const desc = schema(type);
  const es = esDecode(desc, new Uint8Array(bytes));
  const c = cpay(type, 'bin2bin', bytes);
  if (expect === 'reject' || !es.ok || !c.ok) {
    const problems = [];
    if (expect === 'reject' && es.ok) problems.push('protobuf-es accepts it');
    if (expect === 'reject' && c.ok) problems.push('cpay accepts it');
    if (expect !== 'reject' && es.ok !== c.ok) {
      problems.push(es.ok ? 'cpay rejects it: ' + c.err : 'protobuf-es rejects it: ' + es.err);
    }
    if (expect !== 'reject' && !es.ok && !c.ok) problems.push('both reject it');
    check(name, `input ${hex(bytes)}`, problems);
    continue;
  }
  const d = esDecode(desc, c.out);
  check(name, `input ${hex(bytes)}: cpay re-encoding decoded by protobuf-es`,
    d.ok ? diff(desc, es.value, d.value, type, []) : [d.err]);
  const esBin = pb.toBinary(desc, es.value);
  byteCompared++;
  if (hex(c.out) === hex(esBin)) byteSame++;
  else console.log(`note ${name}: re-encodings differ: cpay ${hex(c.out)} protobuf-es ${hex(esBin)}`);
  const cj = cpay(type, 'bin2json', bytes);
  const esJson = pb.toJson(desc, es.value);
  check(name, `input ${hex(bytes)}: JSON`, !cj.ok ? [cj.err] :
    jsonEq(desc, JSON.parse(Buffer.from(cj.out).toString()), esJson) ? [] :
      [`cpay ${Buffer.from(cj.out).toString()}`, `protobuf-es ${JSON.stringify(esJson)}`]);
}

let known = 0;
for (const [name, type, bytes, cpayHex, esDoes, cpayJson] of KNOWN) {
  const desc = schema(type);
  const c = cpay(type, 'bin2bin', bytes);
  const es = esDecode(desc, new Uint8Array(bytes));
  const problems = [];
  if (cpayHex === null) {
    if (c.ok) problems.push('cpay accepts it: ' + hex(c.out));
  } else if (!c.ok) {
    problems.push('cpay rejects it: ' + c.err);
  } else if (hex(c.out) !== cpayHex) {
    problems.push(`cpay re-encodes ${hex(c.out)}, the spec says ${cpayHex}`);
  }
  if (cpayHex !== null) {
    const cj = cpay(type, 'bin2json', bytes);
    if (cpayJson === 'error' && cj.ok) problems.push('cpay writes JSON: ' + Buffer.from(cj.out));
    if (cpayJson !== 'error' && !cj.ok) problems.push('cpay writes no JSON: ' + cj.err);
    if (cpayJson !== 'error' && cj.ok && !jsonEqual(JSON.parse(Buffer.from(cj.out).toString()), cpayJson)) {
      problems.push(`cpay JSON ${Buffer.from(cj.out)}, the spec says ${JSON.stringify(cpayJson)}`);
    }
  }
  check(name, `input ${hex(bytes)}: cpay as the spec says`, problems);
  known++;
  // What protobuf-es makes of the same input, as JSON, next to cpay's.
  let esSays;
  if (!es.ok) {
    esSays = `protobuf-es rejects it (${es.err})`;
  } else {
    const ej = attempt(() => JSON.stringify(pb.toJson(desc, es.value)));
    const u = unknownOf(es.value).join(' ');
    esSays = `protobuf-es decodes it: JSON ${ej.ok ? ej.value : 'fails (' + ej.err + ')'}, ` +
      `unknown fields [${u}]`;
  }
  const cj2 = cpay(type, 'bin2json', bytes);
  esSays += `; cpay: ${c.ok ? 're-encodes ' + hex(c.out) : 'rejects it'}` +
    (c.ok ? `, JSON ${cj2.ok ? Buffer.from(cj2.out).toString() : 'none (' + cj2.err + ')'}` : '');
  console.log(`spec case ${name}: cpay ${problems.length ? 'WRONG' : 'as the spec says'}; ` +
    `${esSays} (expected of protobuf-es ${esVersion}: it ${esDoes})`);
}

console.log(`interop: protobuf-es ${esVersion}: ${2 * JSON_CASES.length + MISSING_REQUIRED_JSON.length} JSON cases, ` +
  `${RANDOM_COUNT} random JSON cases (seed ${RANDOM_SEED}, ${randomFailures} failed), ` +
  `${WIRE_COUNT} random binary messages (${wireFailures} failed), ` +
  `${BIN_CASES.length} binary cases, ${known} spec cases; ${checks} checks, ${failures} failed; ` +
  `${byteSame}/${byteCompared} encodings byte-identical`);
process.exit(failures ? 1 : 0);
