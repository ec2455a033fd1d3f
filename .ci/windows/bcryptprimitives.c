/* bcryptprimitives.dll for Wine 8, which lacks it.
 *
 * Rust's std (1.78 and later) gets its random bytes (HashMap seeds) from
 * ProcessPrng in bcryptprimitives.dll, so every Rust Windows binary fails to
 * start under Wine 8 without this DLL. It forwards to SystemFunction036
 * (RtlGenRandom in advapi32), which Wine has. CI only: never shipped.
 * Built and installed into the Wine prefix by .ci/windows/setup-wine. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE pbData, SIZE_T cbData)
{
    /* RtlGenRandom takes a ULONG (32-bit) length; SIZE_T is 64-bit. */
    while (cbData > 0) {
        ULONG chunk = cbData > (SIZE_T)ULONG_MAX ? ULONG_MAX : (ULONG)cbData;
        /* The real ProcessPrng never fails and Rust's std checks its result
         * only in debug builds: returning FALSE would hand out zeros
         * quietly, so stop loudly instead. */
        if (!SystemFunction036(pbData, chunk)) {
            fprintf(stderr, "bcryptprimitives shim: SystemFunction036 failed\n");
            abort();
        }
        pbData += chunk;
        cbData -= chunk;
    }
    return TRUE;
}
