/* vmutils: which declarations the shared libraries export.
 *
 * The libraries are built with -fvisibility=hidden, so a function is
 * exported only when a public header declares it between VMU_API_BEGIN and
 * VMU_API_END. Every public header wraps its declarations in this pair, right
 * after its own #includes; a declaration outside every pair stays private to
 * the library, whatever its name. */
#ifndef VMUTILS_EXPORT_H
#define VMUTILS_EXPORT_H

#if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#define VMU_API_BEGIN _Pragma("GCC visibility push(default)")
#define VMU_API_END _Pragma("GCC visibility pop")
#else
#define VMU_API_BEGIN
#define VMU_API_END
#endif

#endif
