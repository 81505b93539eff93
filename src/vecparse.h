/*
 * vecparse.h — text format shared by the dense types ("[1,2.5,-3e-2]"), and
 * the element parsing sparsevec shares.
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

/*
 * One element starting at p (not at whitespace): parsed like strtof, *end set
 * past it.  A missing number is a syntax error quoting `str`, overflow 22003,
 * NaN/Inf 22000; underflow keeps the rounded value.
 */
extern float embed_parse_float(const char *p, char **end, const char *str,
							   const char *typname);

/* ERROR 22P02: invalid input syntax for type `typname`: "str" */
extern void embed_syntax_error(const char *str, const char *typname);

/* element checks shared by every input path (text, binary, arrays) */
extern void embed_check_element(float v, const char *typname);

#endif
