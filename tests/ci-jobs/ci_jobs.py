"""The CI jobs of docs/breaking.md, run as written: their shell steps are
taken from the page (the GitHub Actions workflow's `run:` steps with their
`if:` conditions, the GitLab job's `script:` lines, and the commands that
acknowledge a break) and run in a real repository with a bare `origin`, the
way the CI systems would run them, with their variables set.

GitHub: a compatible change passes and is recorded on main after the merge
(the push step commits the lock and pushes it); an intentional break fails
with an annotation; acknowledged as the page says, it passes with a notice
and main's push step has nothing to record; a second break fails.
GitLab: a change without its lock fails the lock check; with it, passes;
an intentional break fails with a JUnit failure; acknowledged, passes.

usage: ci_jobs.py DOC BREAKING_BINARY_DIR SCHEMA_DIR (the v*.proto versions here)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

doc, bindir, schemas = sys.argv[1:4]
text = open(doc, encoding="utf-8").read()
failures = 0


def check(ok, what, detail=""):
    global failures
    print("%s %s%s" % ("ok  " if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
    if not ok:
        failures += 1


def block(first_line):
    """The fenced block whose first line is `first_line`."""
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        if body.startswith(first_line + "\n"):
            return body
    sys.exit("ci_jobs: no block starting with %r in %s" % (first_line, doc))


def github_steps(body):
    """[(name, if, script)] of the workflow's run steps."""
    steps, cur, lines = [], None, body.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)- (name|uses): (.*)$", line)
        if m:
            cur = {"name": m.group(3), "if": None, "run": None}
            steps.append(cur)
        elif cur is not None:
            m_if = re.match(r"^\s+if: (.*)$", line)
            m_run = re.match(r"^(\s+)run: (.*)$", line)
            if m_if:
                cur["if"] = m_if.group(1)
            elif m_run and m_run.group(2) == "|":
                ind = len(m_run.group(1))
                script = []
                while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                              len(lines[i + 1]) - len(lines[i + 1].lstrip()) > ind):
                    i += 1
                    script.append(lines[i].strip("\n")[ind + 2:])
                cur["run"] = "\n".join(script) + "\n"
            elif m_run:
                cur["run"] = m_run.group(2) + "\n"
        i += 1
    return [s for s in steps if s["run"]]


def gitlab_script(body, job):
    """The script lines of one job."""
    out, in_job, in_script = [], False, False
    for line in body.split("\n"):
        if re.match(r"^\S.*:$", line):
            in_job = line == job + ":"
            in_script = False
        elif in_job and re.match(r"^  script:$", line):
            in_script = True
        elif in_job and re.match(r"^  \S", line):
            in_script = False
        elif in_job and in_script and line.startswith("    - "):
            out.append(line[6:])
    return out


def sh(cmd, cwd, env=None, capture=True):
    e = dict(os.environ)
    e.update(env or {})
    e["PATH"] = bindir + os.pathsep + e["PATH"]
    p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", cmd], cwd=cwd, env=e,
                       stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    return p.returncode, p.stdout or ""


GIT = ("git -c user.name=dev -c user.email=dev@example.com -c commit.gpgsign=false "
       "-c init.defaultBranch=main")


def git(cmd, cwd):
    rc, out = sh(GIT + " " + cmd, cwd)
    if rc != 0:
        sys.exit("ci_jobs: git %s failed: %s" % (cmd, out))
    return out


def schema(work, version):
    shutil.copy(os.path.join(schemas, version + ".proto"), os.path.join(work, "proto", "api.proto"))


def new_repo(root):
    origin = os.path.join(root, "origin.git")
    work = os.path.join(root, "work")
    git("init -q --bare " + origin, root)
    git("clone -q %s work" % origin, root)
    os.makedirs(os.path.join(work, "proto"))
    schema(work, "v1")
    rc, out = sh("cpay-breaking --lock proto/cpay.lock --update-lock proto", work)
    check(rc == 0, "the first lock", out)
    git("add proto", work)
    git("commit -q -m v1", work)
    git("push -q origin HEAD:main", work)
    return work


ack = block("cpay-breaking --lock proto/cpay.lock --update-lock --force proto")

# ---- GitHub Actions --------------------------------------------------------------

steps = github_steps(block("# .github/workflows/schema.yml"))
check([s["name"] for s in steps] == ["Install cpay-breaking",
                                      "Check the schema against the base branch and the lock",
                                      "Record the merged schema in the lock"],
      "the workflow's run steps", str([s["name"] for s in steps]))


def github(work, event, branch):
    """Runs the workflow's steps for an event (but the install step: the
    binary under test is on PATH). Returns (status, output)."""
    env = {"GITHUB_EVENT_NAME": event, "GITHUB_REF_NAME": branch, "GIT_AUTHOR_NAME": "ci",
           "GIT_AUTHOR_EMAIL": "ci@example.com", "GIT_COMMITTER_NAME": "ci",
           "GIT_COMMITTER_EMAIL": "ci@example.com"}
    if event == "pull_request":
        env["GITHUB_BASE_REF"] = "main"
    out_all = ""
    for s in steps:
        if s["name"] == "Install cpay-breaking":
            continue
        cond = s["if"]
        if cond and cond != "github.event_name == '%s'" % event:
            continue
        rc, out = sh(s["run"], work, env)
        out_all += out
        if rc != 0:
            return rc, out_all
    return 0, out_all


with tempfile.TemporaryDirectory() as root:
    work = new_repo(root)
    # A compatible change: the PR passes; after the merge, main's step
    # records it in the lock and pushes.
    git("checkout -q -b add-note", work)
    schema(work, "v1-note")
    git("commit -q -am 'add a note field'", work)
    rc, out = github(work, "pull_request", "add-note")
    check(rc == 0 and "::error" not in out, "GitHub: a compatible change passes", out)
    git("checkout -q main", work)
    git("merge -q --ff-only add-note", work)
    git("push -q origin main", work)
    rc, out = github(work, "push", "main")
    check(rc == 0, "GitHub: main records the merged schema", out)
    log = git("--git-dir=%s log --format=%%s -1 main" % os.path.join(root, "origin.git"), root)
    lock = git("--git-dir=%s show main:proto/cpay.lock" % os.path.join(root, "origin.git"), root)
    check(log.strip() == "Record the schema in proto/cpay.lock" and " note " in lock,
          "GitHub: the lock commit is pushed to origin", log + lock)
    git("pull -q origin main", work)
    # An intentional break: fails with an annotation, then is acknowledged.
    git("checkout -q -b drop-coupon", work)
    schema(work, "v2")
    git("commit -q -am 'drop the coupon'", work)
    rc, out = github(work, "pull_request", "drop-coupon")
    check(rc == 1 and "::error file=proto/api.proto" in out and "FIELD_DELETED" in out,
          "GitHub: an unacknowledged break fails with an annotation", out)
    rc, out = sh(ack, work, {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "d@e",
                             "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "d@e"})
    check(rc == 0, "GitHub: the break acknowledged as the page says", out)
    rc, out = github(work, "pull_request", "drop-coupon")
    check(rc == 0 and "::notice file=proto/api.proto" in out and "accepted" in out,
          "GitHub: the acknowledged break passes with a notice", out)
    git("checkout -q main", work)
    git("merge -q --ff-only drop-coupon", work)
    git("push -q origin main", work)
    before = git("rev-parse HEAD", work)
    rc, out = github(work, "push", "main")
    check(rc == 0 and git("rev-parse HEAD", work) == before,
          "GitHub: main has nothing more to record", out)
    # A second break on top, not acknowledged.
    git("checkout -q -b retype", work)
    schema(work, "v3")
    git("commit -q -am 'retype total'", work)
    rc, out = github(work, "pull_request", "retype")
    check(rc == 1 and "FIELD_TYPE_CHANGED" in out, "GitHub: a second break fails", out)

# ---- GitLab CI ---------------------------------------------------------------------

script = gitlab_script(block("# .gitlab-ci.yml"), "schema-breaking")
check(len(script) == 3 and script[0].startswith("git fetch"), "the GitLab job's script", str(script))


def gitlab(work, branch):
    env = {"CI_PIPELINE_SOURCE": "merge_request_event",
           "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_COMMIT_REF_NAME": branch}
    out_all = ""
    for line in script:
        rc, out = sh(line, work, env)
        out_all += out
        if rc != 0:
            return rc, out_all
    return 0, out_all


def junit(work):
    path = os.path.join(work, "cpay-breaking.xml")
    return open(path).read() if os.path.exists(path) else ""


with tempfile.TemporaryDirectory() as root:
    work = new_repo(root)
    git("checkout -q -b add-note", work)
    schema(work, "v1-note")
    git("commit -q -am 'add a note field'", work)
    rc, out = gitlab(work, "add-note")
    check(rc != 0 and "+  field 4 note" in out, "GitLab: a change without its lock fails the lock check",
          out)
    git("checkout -q proto/cpay.lock", work)
    rc, out = sh("cpay-breaking --lock proto/cpay.lock --update-lock proto", work)
    git("commit -q -am 'record the note field'", work)
    rc, out = gitlab(work, "add-note")
    check(rc == 0 and 'failures="0"' in junit(work), "GitLab: with its lock it passes", out)
    schema(work, "v2-note")
    git("commit -q -am 'drop the coupon'", work)
    rc, out = gitlab(work, "add-note")
    xml = junit(work)
    check(rc == 1 and 'failures="1"' in xml and 'type="FIELD_DELETED"' in xml,
          "GitLab: an unacknowledged break fails with a JUnit failure", out + xml)
    rc, out = sh(ack, work, {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "d@e",
                             "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "d@e"})
    check(rc == 0, "GitLab: the break acknowledged as the page says", out)
    rc, out = gitlab(work, "add-note")
    xml = junit(work)
    check(rc == 0 and 'failures="0"' in xml and "accepted: recorded in proto/cpay.lock" in xml,
          "GitLab: the acknowledged break passes", out + xml)

print("%d failed" % failures)
sys.exit(1 if failures else 0)
