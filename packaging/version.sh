#!/bin/sh
# Prints the version that `make build` stamps into the binary and `make
# package` gives the packages; with the argument "commit", the commit.
#
#   a checkout at tag v0.2.0                0.2.0
#   3 commits after v0.2.0                  0.2.0+git.3.540e148
#   no tag yet                              <latest CHANGELOG release>+git.540e148
#   uncommitted changes                     ... with .dirty (commit: ...-modified)
#   not a git checkout (a source archive)   <latest CHANGELOG release>
#
# Every form is a semantic version that sorts after the release it builds
# on, in dpkg and rpm alike (a "-" would make it sort before).
set -eu
cd "$(dirname "$0")/.."

if [ "${1:-}" = commit ]; then
  if c=$(git rev-parse HEAD 2>/dev/null); then
    if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
      c="$c-modified"
    fi
    echo "$c"
  else
    echo unknown
  fi
  exit 0
fi

release=$(sed -n 's/^## \[\([0-9][0-9.]*\)\].*/\1/p' CHANGELOG.md | head -n 1)
if d=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
  # v0.2.0[-3-g540e148][-dirty] -> 0.2.0[+git.3.540e148][.dirty]
  echo "$d" | sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)/+git.\1.\2/; s/-dirty$/.dirty/; s/^([0-9.]+)\.dirty$/\1+dirty/'
elif h=$(git rev-parse --short=7 HEAD 2>/dev/null); then
  dirty=
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    dirty=.dirty
  fi
  echo "${release:-0.0.0}+git.$h$dirty"
else
  echo "${release:-0.0.0}"
fi
