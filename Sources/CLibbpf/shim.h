/* libbpf (Debian: libbpf-dev), the loader of vqscope's eBPF probes, with the libelf and zlib it
 * needs. Used through Sources/CVQProbes (probes.c), not from Swift directly. */
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
