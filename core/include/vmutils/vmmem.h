/* vmutils: vmmem (filled in by its issue). Included through <vmutils.h>. */
#ifndef VMUTILS_VMMEM_H
#define VMUTILS_VMMEM_H
#include "base.h"
#include "log.h"
#endif
