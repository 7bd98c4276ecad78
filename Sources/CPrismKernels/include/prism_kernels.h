#ifndef PRISM_KERNELS_H
#define PRISM_KERNELS_H

// The loops Swift cannot vectorize, one header per source file:
#include "prism_cpu.h"           // prism_cpu.c: the kernels by instruction set, the best this CPU runs
#include "prism_q8q8.h"          // prism_q8q8.c: activation quantization and int8 x int8 products
#include "prism_dequant_dot.h"   // prism_dequant_dot.c: int8 weights x fp32 activations (decode, exact rows)
#include "prism_pullback.h"      // prism_pullback.c: the prisms' pull-back U W through int8 weights
#include "prism_gelu.h"          // prism_gelu.c: tanh-GELU
#include "prism_weight_quant.h"  // prism_weight_quant.c: weight rows to int8 and back, the finite check
#include "prism_cpus.h"          // prism_cpus.c: the CPUs in the affinity mask

// Gives the heap memory the C library keeps after frees back to the kernel (glibc: malloc_trim);
// returns 1 when some was released. A memory plan assumes the process holds only its baseline.
int prism_release_free_heap(void);

#endif
