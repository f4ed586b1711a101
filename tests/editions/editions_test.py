#!/usr/bin/python3
"""The editions suite's runner: buf 1.75.0 compiles the schemas and runs
protoc-gen-cpay, the C programs are built against the generated code, then:

  editions_test.py equiv   ...  equivalence of proto2/proto3 and edition 2023
                                renderings (equiv_driver.c on gen_corpus.py's
                                corpus)
  editions_test.py interop ...  interop with protobuf-es 2.17.0 (interop.mjs
                                driving e23_tool.c)

Options (meson passes them): --src SOURCE_ROOT --plugin PROTOC_GEN_CPAY
--cc 'COMPILER ARGS' --cflag FLAG (repeated) --lib ARCHIVE (repeated)
[--keep DIR: work in DIR, a new or empty folder, and keep it]. Exits 0 on success, 1 on failure,
77 (skipped) only when npm cannot install buf or protobuf-es.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

BUF_VERSION = '1.75.0'
ES_VERSION = '2.17.0'

HERE = os.path.dirname(os.path.abspath(__file__))


def cache_dir(name):
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'cpay', name)


def npm_tool(src, label, package, version, cache):
    r = subprocess.run([os.path.join(src, 'tools', 'npm-tool'), label, package, version, cache])
    if r.returncode == 77:
        sys.exit(77)
    if r.returncode != 0:
        sys.exit('%s: tools/npm-tool failed (%d)' % (label, r.returncode))


def run(cmd, **kw):
    print('+ ' + ' '.join(shlex.quote(c) for c in cmd), flush=True)
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        sys.exit('%s: exit status %d' % (cmd[0], r.returncode))
    return r


# protobuf v36.0's conformance schemas the tests use, from
# ../shared/conformance/v36 (--conformance-v36), at the same paths.
V36_FILES = ['google/protobuf/test_messages_proto2.proto',
             'google/protobuf/test_messages_proto3.proto',
             'editions/golden/test_messages_proto2_editions.proto',
             'editions/golden/test_messages_proto3_editions.proto',
             'conformance/test_protos/test_messages_edition2023.proto']


def stage(args, work):
    """The buf module: tests/editions/proto/, protobuf v36.0's conformance
    schemas, proto/payments.proto and the google/api files it imports."""
    src = args.src
    mod = os.path.join(work, 'mod')
    shutil.copytree(os.path.join(HERE, 'proto'), mod)
    for f in V36_FILES:
        os.makedirs(os.path.dirname(os.path.join(mod, f)), exist_ok=True)
        shutil.copy(os.path.join(args.conformance_v36, f), os.path.join(mod, f))
    shutil.copy(os.path.join(src, 'proto', 'payments.proto'), mod)
    shutil.copytree(os.path.join(src, 'proto', 'google', 'api'),
                    os.path.join(mod, 'google', 'api'))
    # interop_e24.proto: interop_e23.proto as edition 2024 (its names follow
    # 2024's naming style; nothing else differs for C).
    with open(os.path.join(mod, 'interop_e23.proto')) as f:
        e23 = f.read()
    e24 = e23.replace('edition = "2023";', 'edition = "2024";', 1)
    e24 = e24.replace('package interop.e23;', 'package interop.e24;', 1)
    if e24.count('2024') != 1 or 'interop.e24' not in e24:
        sys.exit('interop_e23.proto: no edition or package line to rewrite')
    with open(os.path.join(mod, 'interop_e24.proto'), 'w') as f:
        f.write('// Written by editions_test.py from interop_e23.proto.\n' + e24)
    return mod


def buf_generate(buf, plugin, mod, out, files):
    """buf generate with docs/editions.md's buf.gen.yaml, the plugin's path
    and the output folder put in."""
    with open(os.path.join(HERE, '..', '..', 'docs', 'editions.md')) as f:
        doc = f.read()
    m = re.search(r'```yaml\n(.*?)```', doc, re.S)
    if not m or '- local: protoc-gen-cpay' not in m.group(1) or 'out: gen' not in m.group(1):
        sys.exit('docs/editions.md: no buf.gen.yaml with "- local: protoc-gen-cpay" and "out: gen"')
    yaml = m.group(1).replace('- local: protoc-gen-cpay', '- local: ' + plugin)
    yaml = yaml.replace('out: gen', 'out: ' + out)
    template = out + '.buf.gen.yaml'
    with open(template, 'w') as f:
        f.write(yaml)
    cmd = [buf, 'generate', mod, '--template', template]
    for f in files:
        cmd += ['--path', os.path.join(mod, f)]
    run(cmd)


def compile_c(args, out, sources, gen):
    cmd = shlex.split(args.cc) + ['-std=c11', '-Wall', '-Wextra', '-Werror', '-I' + gen]
    cmd += args.cflag + ['-o', out] + sources + args.lib + ['-lm']
    run(cmd)


ORIGINALS = ['google/protobuf/test_messages_proto2.proto',
             'google/protobuf/test_messages_proto3.proto', 'payments.proto']
EDITIONS = ['editions/golden/test_messages_proto2_editions.proto',
            'editions/golden/test_messages_proto3_editions.proto', 'payments_editions.proto']

# The control: renderings each missing one feature, which must make the
# driver see differences in each pair (a test that cannot fail is none).
CONTROL = {
    'editions/golden/test_messages_proto2_editions.proto':
        [('option features.enum_type = CLOSED;\n', '')],
    'editions/golden/test_messages_proto3_editions.proto':
        [('option features.field_presence = IMPLICIT;\n', '')],
    'payments_editions.proto':
        [('string description = 5 [features.field_presence = EXPLICIT];',
          'string description = 5;')],
}


# The editions code's names, as the originals': (pattern, replacement).
GEN_RENAMES = [
    (r'editions/golden/test_messages_proto([23])_editions', r'google/protobuf/test_messages_proto\1'),
    (r'editions_golden_test_messages_proto([23])_editions', r'google_protobuf_test_messages_proto\1'),
    (r'EDITIONS_GOLDEN_TEST_MESSAGES_PROTO([23])_EDITIONS', r'GOOGLE_PROTOBUF_TEST_MESSAGES_PROTO\1'),
    (r'test_messages_proto([23])_editions\.cpay\.h', r'test_messages_proto\1.cpay.h'),
    (r'protobuf_test_messages_editions_', 'protobuf_test_messages_'),
    (r'PROTOBUF_TEST_MESSAGES_EDITIONS_', 'PROTOBUF_TEST_MESSAGES_'),
    (r'protobuf_test_messages\.editions\.', 'protobuf_test_messages.'),
    (r'payments_editions_v1', 'payments_v1'),
    (r'payments\.editions\.v1', 'payments.v1'),
    (r'payments_editions', 'payments'),
    (r'PAYMENTS_EDITIONS', 'PAYMENTS'),
]


def c_statements(text, renames):
    """The C text without comments and whitespace, renamed, split after each
    ';' and '{'; the serialized descriptors embedded for server reflection
    (which are the compiler's view of each file, editions or not) masked."""
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    text = re.sub(r'//[^\n]*', '', text)
    for pat, rep in renames:
        text = re.sub(pat, rep, text)
    text = re.sub(r'\s+', '', text)
    text = re.sub(r'(__grpc_file_\d+)\[\d+\]=\{[^}]*\}', r'\1[N]={...}', text)
    text = re.sub(r'(__grpc_file_\d+),\d+\}', r'\1,N}', text)
    return re.split(r'(?<=[;{])', text)


def compare_generated(gen):
    """Generated code of each original and of its rendering must be the same
    C, token for token, once the names are mapped (line breaks may differ:
    the names have different lengths). Returns the number of differences."""
    bad = 0
    pairs = list(zip(ORIGINALS, EDITIONS))
    for orig, ed in pairs:
        for suffix in ('.cpay.h', '.cpay.c', '.cpay_grpc.h', '.cpay_grpc.c'):
            o = os.path.join(gen, orig[:-len('.proto')] + suffix)
            e = os.path.join(gen, ed[:-len('.proto')] + suffix)
            if not os.path.exists(o) and not os.path.exists(e):
                continue
            if not os.path.exists(o) or not os.path.exists(e):
                print('generated: FAIL: only one of %s, %s exists' % (o, e))
                bad += 1
                continue
            with open(o) as f:
                so = c_statements(f.read(), [])
            with open(e) as f:
                se = c_statements(f.read(), GEN_RENAMES)
            n = 0
            for i in range(max(len(so), len(se))):
                a = so[i] if i < len(so) else '(end)'
                b = se[i] if i < len(se) else '(end)'
                if a != b:
                    if n < 3:
                        k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]),
                                 min(len(a), len(b)))
                        k = max(0, k - 60)
                        print('generated: %s vs %s, statement %d (from character %d):\n'
                              '  %s\n  %s' % (os.path.basename(o), os.path.basename(e), i, k,
                                             a[k:k + 160], b[k:k + 160]))
                    n += 1
            print('generated: %-44s %6d statements, %d differ' %
                  (orig[:-len('.proto')] + suffix, len(so), n))
            bad += n
    return bad


def build_driver(args, buf, mod, work, suffix):
    gen = os.path.join(work, 'gen' + suffix)
    buf_generate(buf, args.plugin, mod, gen, ORIGINALS + EDITIONS)
    differ = compare_generated(gen)
    if not suffix and differ:
        print('equiv: FAIL: the generated code differs (above)')
        sys.exit(1)
    if suffix and not differ:
        print('equiv: FAIL: control: the generated code does not differ')
        sys.exit(1)
    driver = os.path.join(work, 'equiv-driver' + suffix)
    sources = [os.path.join(HERE, 'equiv_driver.c')] + [
        os.path.join(gen, f[:-len('.proto')] + '.cpay.c') for f in ORIGINALS + EDITIONS]
    compile_c(args, driver, sources, gen)
    return driver


def equiv(args, buf, work):
    mod = stage(args, work)
    driver = build_driver(args, buf, mod, work, '')
    # The corpus is built from the originals' descriptors.
    dset = os.path.join(work, 'originals.binpb')
    cmd = [buf, 'build', mod, '--as-file-descriptor-set', '-o', dset]
    for f in ORIGINALS:
        cmd += ['--path', os.path.join(mod, f)]
    run(cmd)
    corpus = os.path.join(work, 'corpus.bin')
    run(['/usr/bin/python3', os.path.join(HERE, 'gen_corpus.py'), dset, corpus,
         os.environ.get('CPAY_EDITIONS_SEED', '20'),
         os.path.join(args.src, 'tests', 'fuzz', 'corpus'),
         os.path.join(args.src, 'tests', 'interop', 'data')])
    print('+ ' + driver + ' ' + corpus, flush=True)
    rc = subprocess.run([driver, corpus]).returncode
    if rc not in (0, 1):
        print('equiv: the driver failed (%d)' % rc)
        return 1

    # The control run.
    cmod = os.path.join(work, 'mod-control')
    shutil.copytree(mod, cmod)
    for f, edits in CONTROL.items():
        path = os.path.join(cmod, f)
        with open(path) as fh:
            text = fh.read()
        for old, new in edits:
            if old not in text:
                print('equiv: control: %r is not in %s' % (old, f))
                return 1
            text = text.replace(old, new)
        with open(path, 'w') as fh:
            fh.write(text)
    cdriver = build_driver(args, buf, cmod, work, '-control')
    print('+ ' + cdriver + ' ' + corpus + '   (control: each rendering misses a feature)',
          flush=True)
    r = subprocess.run([cdriver, corpus], stdout=subprocess.PIPE, text=True)
    differ = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[5].isdigit() and '.' in parts[0]:
            differ[parts[0]] = int(parts[5])
    print('\n'.join(l for l in r.stdout.splitlines() if not l.startswith('    ')))
    missed = [n for n in ('protobuf_test_messages.proto2.TestAllTypesProto2',
                          'protobuf_test_messages.proto3.TestAllTypesProto3',
                          'payments.v1.ChargeRequest') if differ.get(n, 0) == 0]
    if r.returncode != 1 or missed:
        print('equiv: FAIL: the control run did not see the missing features (%s)' %
              ', '.join(missed or ['exit status %d' % r.returncode]))
        return 1
    print('equiv: control: the differences were seen (exit status 1, as expected)')
    if rc:
        print('equiv: FAIL: the editions renderings behave differently (above)')
    return rc


INTEROP = ['interop_e23.proto', 'interop_e24.proto',
           'conformance/test_protos/test_messages_edition2023.proto']


def interop(args, buf, work):
    es_cache = cache_dir('protobuf-es-' + ES_VERSION)
    npm_tool(args.src, 'editions interop', '@bufbuild/protobuf', ES_VERSION, es_cache)
    mod = stage(args, work)
    gen = os.path.join(work, 'gen')
    buf_generate(buf, args.plugin, mod, gen, INTEROP)
    tool = os.path.join(work, 'e23-tool')
    compile_c(args, tool, [os.path.join(HERE, 'e23_tool.c')] +
              [os.path.join(gen, f[:-len('.proto')] + '.cpay.c') for f in INTEROP], gen)
    dset = os.path.join(work, 'interop.binpb')
    cmd = [buf, 'build', mod, '--as-file-descriptor-set', '-o', dset]
    for f in INTEROP:
        cmd += ['--path', os.path.join(mod, f)]
    run(cmd)
    print('+ node interop.mjs', flush=True)
    r = subprocess.run(['node', os.path.join(HERE, 'interop.mjs'), es_cache, dset, tool])
    if r.returncode not in (0, 1):
        print('interop: interop.mjs failed (%d)' % r.returncode)
        return 1

    # The control: cpay built from the schema with Size open instead of
    # closed and Everything.delimited length-prefixed must disagree with
    # protobuf-es (which reads the real schema).
    cmod = os.path.join(work, 'mod-control')
    shutil.copytree(mod, cmod)
    path = os.path.join(cmod, 'interop_e23.proto')
    with open(path) as f:
        text = f.read()
    # (An open enum must list 0 first.)
    for old, new in [('option features.enum_type = CLOSED;\n  SIZE_SMALL',
                      'SIZE_ZERO = 0;\n  SIZE_SMALL'),
                     ('Point delimited = 20 [features.message_encoding = DELIMITED];',
                      'Point delimited = 20;')]:
        if old not in text:
            print('interop: control: %r is not in interop_e23.proto' % old)
            return 1
        text = text.replace(old, new)
    with open(path, 'w') as f:
        f.write(text)
    cgen = os.path.join(work, 'gen-control')
    buf_generate(buf, args.plugin, cmod, cgen, INTEROP)
    ctool = os.path.join(work, 'e23-tool-control')
    compile_c(args, ctool, [os.path.join(HERE, 'e23_tool.c')] +
              [os.path.join(cgen, f[:-len('.proto')] + '.cpay.c') for f in INTEROP], cgen)
    print('+ node interop.mjs (control: cpay with Size open and delimited length-prefixed)',
          flush=True)
    c = subprocess.run(['node', os.path.join(HERE, 'interop.mjs'), es_cache, dset, ctool],
                       stdout=subprocess.PIPE, text=True)
    fails = [l for l in c.stdout.splitlines() if l.startswith('FAIL ')]
    summary = [l for l in c.stdout.splitlines() if l.startswith('interop:')]
    print('\n'.join(fails[:8] + summary))
    if c.returncode != 1 or not fails:
        print('interop: FAIL: the control run did not disagree (exit status %d)' % c.returncode)
        return 1
    print('interop: control: %d checks disagreed, as expected' % len(fails))
    return r.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['equiv', 'interop'])
    ap.add_argument('--src', required=True)
    ap.add_argument('--conformance-v36', required=True)
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--cc', required=True)
    ap.add_argument('--cflag', action='append', default=[])
    ap.add_argument('--lib', action='append', default=[])
    ap.add_argument('--keep')
    args = ap.parse_args()
    if args.mode == 'interop' and not shutil.which('node'):
        print('editions interop: SKIP: no node to run protobuf-es')
        sys.exit(77)
    buf_cache = cache_dir('buf-' + BUF_VERSION)
    npm_tool(args.src, 'editions ' + args.mode, '@bufbuild/buf', BUF_VERSION, buf_cache)
    buf = os.path.join(buf_cache, 'node_modules', '.bin', 'buf')
    run([buf, '--version'])
    if args.keep:
        if os.path.exists(args.keep) and os.listdir(args.keep):
            sys.exit('--keep %s: the folder exists and is not empty' % args.keep)
        os.makedirs(args.keep, exist_ok=True)
        work = os.path.abspath(args.keep)
        rc = (equiv if args.mode == 'equiv' else interop)(args, buf, work)
    else:
        with tempfile.TemporaryDirectory(prefix='cpay-editions-') as work:
            rc = (equiv if args.mode == 'equiv' else interop)(args, buf, work)
    sys.exit(1 if rc else 0)


if __name__ == '__main__':
    main()
