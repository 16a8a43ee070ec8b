/* vmutils: numa (filled in by its issue). Included through <vmutils.h>. */
#ifndef VMUTILS_NUMA_H
#define VMUTILS_NUMA_H
#include "base.h"
#include "log.h"
#endif
