/* Self-check for the bcryptprimitives.dll shim, run under Wine by
 * .ci/windows/setup-wine: load it the way Rust's std does (by name, from the
 * system folder), call ProcessPrng on 64 bytes and check they are not all
 * zeros. Exit 0 on success, 1 with a message otherwise. */
#include <windows.h>
#include <stdio.h>

typedef BOOL (WINAPI *ProcessPrngFn)(PBYTE, SIZE_T);

int main(void)
{
    BYTE buf[64] = {0};
    HMODULE dll = LoadLibraryA("bcryptprimitives.dll");
    if (!dll) {
        printf("prng-check: FAIL: LoadLibrary(bcryptprimitives.dll) error %lu\n", GetLastError());
        return 1;
    }
    char path[MAX_PATH];
    GetModuleFileNameA(dll, path, sizeof path);
    ProcessPrngFn prng = (ProcessPrngFn)(void *)GetProcAddress(dll, "ProcessPrng");
    if (!prng) {
        printf("prng-check: FAIL: no ProcessPrng export in %s\n", path);
        return 1;
    }
    BOOL ok = prng(buf, sizeof buf);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof buf; i++) nonzero += buf[i] != 0;
    printf("prng-check: %s ProcessPrng returned %d, %d of %u bytes non-zero: ",
           path, (int)ok, nonzero, (unsigned)sizeof buf);
    for (size_t i = 0; i < 16; i++) printf("%02x", buf[i]);
    printf("...\n");
    if (!ok || nonzero == 0) {
        printf("prng-check: FAIL: ProcessPrng gave no random bytes\n");
        return 1;
    }
    printf("prng-check: ok\n");
    return 0;
}
