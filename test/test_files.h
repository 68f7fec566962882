// test_files.h: temporary-directory helpers shared by the suites that write files.
#ifndef TEST_FILES_H
#define TEST_FILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

// rm -rf dir (without following links out of it)
static inline void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { remove(dir); return; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = path_join(dir, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
        else if (p) remove(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

// number of temporary files or folders (names containing ".tmp") anywhere under dir
static inline int count_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (strstr(e->d_name, ".tmp")) n++;
        char *p = path_join(dir, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) n += count_temporaries(p);
        free(p);
    }
    closedir(d);
    return n;
}

#endif
