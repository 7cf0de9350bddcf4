/* Functions Rust's std references that bookworm's wasi-libc (2022) does not define.
 *
 * WASI preview 1 has no threads and no way to resolve a path, so each stub fails the way
 * newer wasi-libc releases do: with ENOSYS. Linked into every guest by `cargo xtask`. */
#include <errno.h>
#include <stddef.h>

/* This wasi-libc has no pthread.h; a pthread_t is a pointer there, as it is here. */
typedef void *pthread_t;

int pthread_join(pthread_t thread, void **result) {
    (void)thread;
    (void)result;
    return ENOSYS;
}

int pthread_detach(pthread_t thread) {
    (void)thread;
    return ENOSYS;
}

char *realpath(const char *restrict path, char *restrict resolved) {
    (void)path;
    (void)resolved;
    errno = ENOSYS;
    return NULL;
}
