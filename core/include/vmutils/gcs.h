/* vmutils: gcs (filled in by its issue). Included through <vmutils.h>. */
#ifndef VMUTILS_GCS_H
#define VMUTILS_GCS_H
#include "base.h"
#include "log.h"
#endif
