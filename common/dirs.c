// dirs.c: symlink-safe removal and path helpers (dirs.h).
#define _XOPEN_SOURCE 700  // realpath
#include "common/dirs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Remove the entry `name` of the directory open as `parent_fd`. Directories are opened with
// O_NOFOLLOW | O_DIRECTORY relative to their parent, so a link swapped in after the lstat is not
// followed either: the open fails and the link itself is unlinked or reported.
static int remove_at(int parent_fd, const char *name, const char *shown, int depth_left, char *err, size_t errlen) {
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: cannot inspect: %s", shown, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {  // files, links, FIFOs, sockets: only the name goes
        if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: cannot remove: %s", shown, strerror(errno));
        return -1;
    }
    if (depth_left < 0) {
        snprintf(err, errlen, "%s: folders nest too deep to remove; left in place", shown);
        return -1;
    }
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open folder: %s", shown, strerror(errno));
        return -1;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        snprintf(err, errlen, "%s: cannot list folder: %s", shown, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char inner[PATH_MAX];
        snprintf(inner, sizeof inner, "%s/%s", shown, e->d_name);
        rc = remove_at(dirfd(d), e->d_name, inner, depth_left - 1, err, errlen);
    }
    closedir(d);
    if (rc == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s: cannot remove folder: %s", shown, strerror(errno));
        rc = -1;
    }
    return rc;
}

int remove_tree_nofollow(const char *path, int max_depth, char *err, size_t errlen) {
    return remove_at(AT_FDCWD, path, path, max_depth, err, errlen);
}

char *path_absolute(const char *path) {
    if (path[0] == '/') return strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    while (path[0] == '.' && path[1] == '/') path += 2;  // "./x" -> "x"
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *out = malloc(n);
    if (!out) return NULL;
    if (!path[0] || !strcmp(path, ".")) snprintf(out, n, "%s", cwd);
    else snprintf(out, n, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path);
    return out;
}

int path_is_within(const char *path, const char *dir) {
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(path, rp) || !realpath(dir, rd)) return 0;
    size_t n = strlen(rd);
    if (strncmp(rp, rd, n) != 0) return 0;
    return rp[n] == '\0' || rp[n] == '/' || (n == 1 && rd[0] == '/');
}
