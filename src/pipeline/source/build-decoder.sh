#!/bin/sh
# Builds vigil-decode.c (lean-decoder.ts) into $1 against the system's libavcodec and
# libswscale (Debian: gcc libc6-dev pkgconf libavcodec-dev libswscale-dev). The Dockerfile
# runs this too. Writes beside $1 and renames, so a reader never sees half a program.
set -eu
out="$1"
here="${0%/*}"
command -v cc >/dev/null || { echo "there is no C compiler (cc)" >&2; exit 1; }
command -v pkg-config >/dev/null || { echo "there is no pkg-config" >&2; exit 1; }
libs="libavcodec libswscale libavutil"
# shellcheck disable=SC2086
pkg-config --exists $libs || { echo "libavcodec's and libswscale's headers are not installed" >&2; exit 1; }
# shellcheck disable=SC2086,SC2046
cc -O2 -Wall -o "$out.tmp.$$" "$here/vigil-decode.c" $(pkg-config --cflags --libs $libs)
mv -f "$out.tmp.$$" "$out"
