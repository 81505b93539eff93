/*
 * vecparse.h — text format shared by the dense types: "[1,2.5,-3e-2]".
 */
#ifndef EMBED_VECPARSE_H
#define EMBED_VECPARSE_H

/*
 * Parse `str` into a palloc'd float array; *dim receives the count.  Errors
 * name `typname`.  Rejects syntax errors, NaN/Inf, overflow, empty lists and
 * more than maxdim elements.
 */
extern float *embed_parse_float_list(const char *str, const char *typname,
									 int maxdim, int *dim);

/* "[x1,x2,...]" with each element the shortest string that round-trips. */
extern char *embed_format_float_list(const float *x, int n);

/* element checks shared by every input path (text, binary, arrays) */
extern void embed_check_element(float v, const char *typname);

#endif
