#!/usr/bin/env bash
# Builds the Dockerfile's build stage without Docker: copies into a fresh directory exactly what the stage's COPY
# lines bring in (after .dockerignore), runs the stage's `swift build` RUN command there with /bin/sh as Docker
# does, then checks the binary it installs with Tests/release/check_static.sh.
#
#     bash Tests/compose/check_dockerfile_build.sh [WORKDIR]
#
# A full fresh release build (10 minutes or more on 2 cores): CI runs it, `make test` does not. The apt-get RUN of
# the stage is not run: the packages it installs are the ones `make deps` installs. WORKDIR (default: a temporary
# directory, removed afterwards) stands for the stage's WORKDIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

if [ $# -ge 1 ]; then
	work=$1
	mkdir -p "$work"
	[ -z "$(ls -A "$work")" ] || { echo "check_dockerfile_build: $work is not empty" >&2; exit 2; }
else
	work=$(mktemp -d /tmp/bucket-relay-docker-context.XXXXXX)
	trap 'rm -rf "$work"' EXIT
fi

commands=$(python3 Tests/compose/dockerfile_context.py --stage build --into "$work")
echo "== context of the build stage in $work: $(find "$work" -type f | wc -l) files"
[ -n "$commands" ] || { echo "FAIL the build stage has no swift build RUN command" >&2; exit 1; }
started=$(date +%s)
while IFS= read -r command; do
	echo "== RUN $command"
	(cd "$work" && /bin/sh -c "$command")
done <<<"$commands"
echo "== built in $(($(date +%s) - started)) s"
binary=$(sed -n 's#.*COPY --from=build [^ ]*/\(out/[^ ]*\) .*#\1#p' Dockerfile | head -1)
bash "$root/Tests/release/check_static.sh" "$work/${binary:-out/bucket-relay}"
