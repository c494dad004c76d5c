#!/usr/bin/env bash
# The release build of vqscope for hosts without a Swift toolchain: the Swift runtime linked in
# (--static-swift-stdlib), and libstdc++ and libgcc too, so that the binary needs nothing but
# glibc and ncursesw. Prints the binary's path last. Extra arguments go to `swift build`
# (e.g. --scratch-path DIR).
#
# The Swift runtime's own link line asks for `-lstdc++`, which the linker would take as the shared
# library; a one-line linker script named libstdc++.so, found first, hands it the static archive.
set -euo pipefail
cd "$(dirname "$0")/.."

archive=$(clang -print-file-name=libstdc++.a 2>/dev/null || true)
[ -f "$archive" ] || archive=$(gcc -print-file-name=libstdc++.a 2>/dev/null || true)
[ -f "$archive" ] || { echo "build-release: no libstdc++.a (Debian: apt-get install libstdc++-12-dev)" >&2; exit 2; }
shim=$PWD/.build/static-libstdc++
mkdir -p "$shim"
echo "INPUT($archive)" >"$shim/libstdc++.so"
# libbpf (the eBPF probes' loader) and the libelf and zlib it needs, linked in the same way: the
# CLibbpf module asks for -lbpf -lelf -lz, and these scripts name the static archives.
for lib in bpf elf z; do
    a=$(gcc -print-file-name=lib$lib.a 2>/dev/null || true)
    [ -f "$a" ] || a=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/lib$lib.a
    [ -f "$a" ] || { echo "build-release: no lib$lib.a (Debian: apt-get install libbpf-dev libelf-dev zlib1g-dev)" >&2; exit 2; }
    if [ $lib = bpf ]; then
        # The linker meets -lbpf before vqscope's objects that call it, so an archive there would
        # give nothing: libbpf is handed over whole, as one relocatable object.
        ld -r --whole-archive "$a" -o "$shim/libbpf-all.o"
        a=$shim/libbpf-all.o
    fi
    echo "INPUT($a)" >"$shim/lib$lib.so"
done

# -L through swiftc reaches clang as a user -L, searched before the toolchain's own library
# directories (where libbpf.so, libelf.so and libz.so also are); through -Xlinker alone it would come
# after them.
flags=(-c release --static-swift-stdlib --product vqscope
       -Xlinker -L"$shim" -Xswiftc -L"$shim" -Xswiftc -Xclang-linker -Xswiftc -static-libgcc "$@")
swift build "${flags[@]}" >&2
echo "$(swift build "${flags[@]}" --show-bin-path)/vqscope"
