/* vmutils: options (filled in by its issue). Included through <vmutils.h>. */
#ifndef VMUTILS_OPTIONS_H
#define VMUTILS_OPTIONS_H
#include "base.h"
#include "log.h"
#endif
