/* vmutils: sizing (filled in by its issue). Included through <vmutils.h>. */
#ifndef VMUTILS_SIZING_H
#define VMUTILS_SIZING_H
#include "base.h"
#include "log.h"
#endif
