/* vmutils: the public C API.
 *
 * A plain C11 library (no Lua) porting the semantics of hcsshim's
 * internal/vm/vmutils: UVM sizing rules, vNUMA layouts, reference info files,
 * runtime options, the vmmem lookup and the GCS log pipeline, plus a
 * logrus-compatible log system that all of them report through.
 * Each concern has its own header below; include only this one. */
#ifndef VMUTILS_H
#define VMUTILS_H

#include "vmutils/base.h"
#include "vmutils/log.h"
#include "vmutils/log_async.h"
#include "vmutils/sizing.h"
#include "vmutils/numa.h"
#include "vmutils/topology.h"
#include "vmutils/numa_fit.h"
#include "vmutils/refinfo.h"
#include "vmutils/gcs.h"
#include "vmutils/options.h"
#include "vmutils/gcs_server.h"
#include "vmutils/vmmem.h"

#endif
