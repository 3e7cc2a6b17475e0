#!/bin/sh
# The build steps of packaging/docker/Dockerfile, as a script so they run
# (and are tested) where no Docker engine is: a static pinspect in
# OUT/usr/bin, with its licence. Usage: packaging/docker/build.sh OUT
#
# VERSION and COMMIT may be given (docker build --build-arg); otherwise
# packaging/version.sh finds them, as `make build` does.
set -eu
out=${1:?usage: build.sh OUT}
cd "$(dirname "$0")/../.."
version=${VERSION:-$(packaging/version.sh)}
commit=${COMMIT:-$(packaging/version.sh commit)}
mkdir -p "$out/usr/bin" "$out/usr/share/doc/pinspect"
# Static (no cgo): the runtime image has no C library.
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
  -o "$out/usr/bin/pinspect" ./cmd/pinspect
cp LICENSE "$out/usr/share/doc/pinspect/LICENSE"
# The image must start: the binary runs here as it will there.
"$out/usr/bin/pinspect" --version
