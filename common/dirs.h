// dirs.h: directory helpers that never follow a symbolic link out of the folder they work on
// (issue 15: a run may change nothing outside its --output-dir), and path helpers for paths that
// must mean the same file from any current directory.
#ifndef DIRS_H
#define DIRS_H

#include <stddef.h>

// Remove `path` and, if it is a real directory, everything under it (at most max_depth levels of
// sub-directories). A symbolic link is removed as a link: its target is never opened, listed or
// deleted. Missing is not an error. Returns 0, or -1 with one line in err naming what was kept.
int remove_tree_nofollow(const char *path, int max_depth, char *err, size_t errlen);

// `path` as an absolute path (the current directory joined in front of a relative one; "." and ".."
// kept as written, symlinks not resolved), malloc'd; NULL when out of memory or getcwd fails.
char *path_absolute(const char *path);

// 1 when the existing file or folder `path` lies inside the existing folder `dir` or is `dir` itself,
// compared after resolving every symbolic link (realpath); 0 otherwise, or when either is missing.
int path_is_within(const char *path, const char *dir);

#endif
