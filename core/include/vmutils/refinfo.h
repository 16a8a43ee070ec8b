/* vmutils: refinfo (filled in by its issue). Included through <vmutils.h>. */
#ifndef VMUTILS_REFINFO_H
#define VMUTILS_REFINFO_H
#include "base.h"
#include "log.h"
#endif
