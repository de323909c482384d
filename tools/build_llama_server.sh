#!/usr/bin/env bash
# Build llama.cpp's own OpenAI-compatible server, llama-server, from the llama.cpp tree inside the
# llama-cpp-python sdist of the installed version (the same llama.cpp the embedded backend runs), as
# one static binary, and cache it per version and CPU; prints the binary's path. The tests serve the
# SmolLM2 GGUF with it. About 8 minutes of 2 cores the first time, nothing after.
set -euo pipefail
version=$(python -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
cpu=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m) | cksum | cut -d' ' -f1)
cache="${ARENA_LLAMA_SERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eq-arena/llama-server}/$version-$cpu"
if [ -x "$cache/llama-server" ]; then
    echo "$cache/llama-server"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building llama-server $version (cached in $cache) ..." >&2
python -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work" >&2
tar xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src=$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >"$work/cmake.log" 2>&1 \
    || { tail -20 "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" --target llama-server -j"$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -20 "$work/build.log" >&2; exit 1; }
mkdir -p "$cache"
cp "$work/build/bin/llama-server" "$cache/llama-server.tmp"
mv "$cache/llama-server.tmp" "$cache/llama-server"
echo "$cache/llama-server"
