/* The compiled eBPF probes (bpf/vqprobes.bpf.c), as bytes: see scripts/bpf-build.sh. */
#ifndef VQPROBES_OBJECT_H
#define VQPROBES_OBJECT_H
extern const unsigned char vqprobes_object[];
extern const unsigned long vqprobes_object_size;
#endif
