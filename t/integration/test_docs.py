"""The documentation keeps up with the code, and the project stands on its
own: docs/PROTOCOL.md documents every request type, every frame the server
sends, every error code and every close code that the code has, and no file
of the repository links or points outside it."""

import re
import subprocess
from pathlib import Path

import pytest

from harness import REPO

DOC = REPO / "docs" / "PROTOCOL.md"

# hosts a URL in the tree may name: this machine, a name without a dot
# (an upstream block, a placeholder like "host" or "..."), and names
# reserved for examples and private networks (RFC 2606, 6761), which point
# nowhere; test_jwt.c also spells "example" wrong on purpose
PLACEHOLDER_HOST = re.compile(
    r"^(127\.0\.0\.1|localhost|[^.]*|\.+"
    r"|.*\.(exampl|example|invalid|test|local|internal)"
    r"|(.*\.)?example\.(com|org|net))$")


def read(path):
    return (REPO / path).read_text()


def section(number):
    """The text of section `number` of docs/PROTOCOL.md ("3", "4.7")."""
    # a section ends where one of its level or above starts
    level, ends = ("##", "##") if "." not in number else ("###", "#{2,3}")
    m = re.search(r"(?ms)^%s %s\.? .*?(?=^%s \d)" % (level, re.escape(number), ends),
                  DOC.read_text() + "\n## 99. end")
    assert m, "docs/PROTOCOL.md has no section %s" % number
    return m.group(0)


def tracked_text_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                         capture_output=True).stdout.decode()
    for name in filter(None, out.split("\0")):
        try:
            yield name, (REPO / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue


def test_every_request_type_has_its_section():
    types = re.findall(r'\{ "(\w+)",\s+CHAT_REQ_', read("common/chat_proto.c"))
    assert len(types) >= 12, types
    requests = section("3")
    for t in types:
        assert re.search(r"(?m)^### 3\.\d+ .*\b%s\b" % t, requests), \
            "no heading for the request %r in section 3" % t


def server_frame_types():
    found = set()
    for path in sorted((REPO / "ngx_chat_module").glob("*.c")) + \
            sorted((REPO / "ngx_chat_module" / "lua").glob("*.lua")) + \
            sorted((REPO / "common").glob("*.c")) + \
            sorted((REPO / "workers").glob("*.c")):
        text = path.read_text()
        found.update(re.findall(r'"type", "(\w+)"', text))
        found.update(re.findall(r'frame_answer\("(\w+)"', text))
        found.update(re.findall(r'\\"type\\":\\"(\w+)\\"', text))
        found.update(re.findall(r'"type\\?":\\?"(\w+)', text))
    return found


def test_every_frame_the_server_sends_is_shown():
    types = server_frame_types()
    assert {"hello", "msg", "error", "sent", "group_ok", "presence"} <= types, types
    doc = DOC.read_text()
    for t in types:
        assert '"type":"%s"' % t in doc, "no example of the %r frame" % t


def test_every_error_code_is_in_the_table():
    stats = read("ngx_chat_module/ngx_chat_stats.c")
    codes = re.findall(r'"(\w+)"', re.search(
        r"ngx_chat_error_codes\[\] = \{(.*?)\};", stats, re.S).group(1))
    assert "bad_request" in codes and len(codes) >= 7, codes
    errors = section("4.7")
    for code in codes:
        assert "`%s`" % code in errors, "error code %r is not in 4.7" % code


def test_every_close_code_is_in_the_table():
    codes = {int(c) for c in re.findall(r"#define CHAT_WS_CLOSE_\w+\s+(\d+)",
                                        read("common/chat_ws_frame.h"))}
    codes.discard(1005)      # "no status": never sent, only received
    assert {1000, 1001, 1008, 4401} <= codes, codes
    closes = section("7")
    for code in codes:
        assert re.search(r"(?m)^\| %d \|" % code, closes), \
            "close code %d is not in section 7" % code


def test_no_file_links_outside_the_repository():
    problems = []
    for name, text in tracked_text_files():
        # the machine's work directory spelt so that this line does not match
        for m in re.finditer(r"\.\./shared\b|/w[o]rk/|https?://([A-Za-z0-9.-]*)", text):
            host = m.group(1)
            if host is not None and (host == "" or PLACEHOLDER_HOST.match(host)):
                continue
            problems.append("%s: %s" % (name, m.group(0)))
    assert not problems, "\n".join(problems)


def test_every_relative_markdown_link_resolves_inside_the_repository():
    problems = []
    for name, text in tracked_text_files():
        if not name.endswith(".md"):
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path = target.split("#")[0]
            if not path:
                continue
            resolved = ((REPO / name).parent / path).resolve()
            if REPO.resolve() not in resolved.parents or not resolved.exists():
                problems.append("%s: %s" % (name, target))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["LICENSE", "CHANGELOG.md"])
def test_the_project_carries_its_license_and_changelog(name):
    text = read(name)
    version = re.search(r'CHAT_VERSION\s+"([^"]+)"', read("common/chat_version.h"))
    if name == "LICENSE":
        assert "BSD 2-Clause" in text and "the ngx_chat authors" in text
    else:
        assert "## %s " % version.group(1) in text, "CHANGELOG.md lacks this version"
