// jsonl.c: JSON lines, one object per '\n'-terminated line: {"text": "...", "label": "pos" | 1}.
//
// Rules (doc/data.md): keys are the text/label column options (default "text" and "label");
// the text must be a JSON string, the label a string or a non-negative integral number below 2^53;
// a key given twice is an error; blank lines are skipped; a raw U+2028 inside a string is text.
// Each line is pre-scanned (doc/hostile-inputs.md §3.3) so that no "\u0000" or bad "\u" escape
// reaches cJSON, which would silently cut the string; the file was already checked for NUL and UTF-8.
#include "data/dataset_internal.h"

#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_hex(char c) { return isxdigit((unsigned char)c) != 0; }

// Inside strings, every "\u" must have four hex digits and not be \u0000. Returns 0 or -1.
static int prescan_escapes(const char *s, size_t n) {
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_string) { if (s[i] == '"') in_string = 1; continue; }
        if (s[i] == '"') { in_string = 0; continue; }
        if (s[i] != '\\') continue;
        if (i + 1 >= n) return -1;
        if (s[i + 1] == 'u') {
            if (i + 5 >= n || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) || !is_hex(s[i + 5]))
                return -1;
            if (memcmp(s + i + 2, "0000", 4) == 0) return -1;
            i += 5;
        } else {
            i += 1;  // skip the escaped character (so \" does not end the string)
        }
    }
    return 0;
}

// The member named key (case-sensitive); *count = how many members have that name.
static cJSON *get_member(cJSON *obj, const char *key, int *count) {
    cJSON *found = NULL, *item;
    *count = 0;
    cJSON_ArrayForEach(item, obj) {
        if (item->string && strcmp(item->string, key) == 0) {
            if (!found) found = item;
            (*count)++;
        }
    }
    return found;
}

static int read_line_object(const char *path, int line_no, const char *line, size_t n, const DatasetOptions *opt,
                            const char *text_key, const char *label_key, RecordList *out, char *err, size_t errlen) {
    if (prescan_escapes(line, n)) {
        snprintf(err, errlen, "%s:%d: bad \\u escape (not 4 hex digits, or \\u0000)", path, line_no);
        return -1;
    }
    char *copy = malloc(n + 1);  // cJSON needs the NUL inside the length (hostile-inputs.md §3.3)
    if (!copy) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    memcpy(copy, line, n);
    copy[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, n + 1, &end, 1);
    int rc = -1;
    int count;
    if (!root) {
        snprintf(err, errlen, "%s:%d:%td: invalid JSON%s", path, line_no, (end ? end - copy : 0) + 1,
                 (n && line[0] == '[') ? " (expected one object per line, not an array)" : "");
        goto done;
    }
    if (!cJSON_IsObject(root)) { snprintf(err, errlen, "%s:%d: expected a JSON object", path, line_no); goto done; }
    cJSON *text = get_member(root, text_key, &count);
    if (count > 1) { snprintf(err, errlen, "%s:%d: key '%s' appears %d times", path, line_no, text_key, count); goto done; }
    if (!text) { snprintf(err, errlen, "%s:%d: no text key '%s'", path, line_no, text_key); goto done; }
    if (!cJSON_IsString(text) || !text->valuestring) {
        snprintf(err, errlen, "%s:%d: '%s' must be a string", path, line_no, text_key);
        goto done;
    }
    if (text->valuestring[0] == '\0') { snprintf(err, errlen, "%s:%d: empty text", path, line_no); goto done; }
    char number[32];
    const char *label = NULL;
    size_t label_len = 0;
    if (!opt->unlabeled) {
        cJSON *lab = get_member(root, label_key, &count);
        if (count > 1) { snprintf(err, errlen, "%s:%d: key '%s' appears %d times", path, line_no, label_key, count); goto done; }
        if (!lab) { snprintf(err, errlen, "%s:%d: no label key '%s'", path, line_no, label_key); goto done; }
        if (cJSON_IsString(lab) && lab->valuestring) {
            label = text_trim(lab->valuestring, strlen(lab->valuestring), &label_len);
        } else if (cJSON_IsNumber(lab)) {
            double d = lab->valuedouble;  // integer rule of hostile-inputs.md §1.2
            if (!(d >= 0 && d <= 9007199254740991.0 && d == floor(d))) {
                snprintf(err, errlen, "%s:%d: label %g is not an integer in [0, 2^53)", path, line_no, d);
                goto done;
            }
            snprintf(number, sizeof number, "%.0f", d);
            label = number;
            label_len = strlen(number);
        } else {
            snprintf(err, errlen, "%s:%d: '%s' must be a string or an integer", path, line_no, label_key);
            goto done;
        }
        if (label_len == 0) { snprintf(err, errlen, "%s:%d: empty label", path, line_no); goto done; }
    }
    rc = records_push(out, path, text->valuestring, strlen(text->valuestring), label, label_len, line_no, err, errlen);
done:
    cJSON_Delete(root);
    free(copy);
    return rc;
}

int jsonl_read(const char *path, const char *buf, size_t len, const DatasetOptions *opt,
               RecordList *out, char *err, size_t errlen) {
    const char *text_key = opt->text_column ? opt->text_column : "text";
    const char *label_key = opt->label_column ? opt->label_column : "label";
    int line_no = 0;
    for (size_t pos = 0; pos < len;) {
        line_no++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        const char *line = buf + pos;
        size_t n = end - pos;
        pos = nl ? end + 1 : len;
        if (n > DATASET_MAX_FIELD_BYTES) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, line_no, DATASET_MAX_FIELD_BYTES);
            return -1;
        }
        size_t trimmed;
        text_trim(line, n, &trimmed);
        if (trimmed == 0) continue;  // blank line
        if (read_line_object(path, line_no, line, n, opt, text_key, label_key, out, err, errlen)) return -1;
    }
    if (out->n == 0) { snprintf(err, errlen, "%s: no examples", path); return -1; }
    return 0;
}
