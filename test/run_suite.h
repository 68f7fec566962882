// run_suite.h: run one check suite and turn its result into the process exit status.
#ifndef RUN_SUITE_H
#define RUN_SUITE_H

#include <check.h>

// runs every test of s (forked, so a crash fails one test, not the suite); returns the number failed
static inline int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

#endif
