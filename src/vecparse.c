/*
 * vecparse.c — text input/output for the vector types: the dense types' lists,
 * and the number parsing sparsevec.c shares.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "vecparse.h"

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void
embed_syntax_error(const char *str, const char *typname)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", typname, str)));
}

void
embed_check_element(float v, const char *typname)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in %s", typname)));
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in %s", typname)));
}

float
embed_parse_float(const char *p, char **end, const char *str, const char *typname)
{
	float		v;

	errno = 0;
	v = strtof(p, end);
	if (*end == p)
		embed_syntax_error(str, typname);
	/* ERANGE with a finite result is underflow: keep the rounded value */
	if (errno == ERANGE && isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%.*s\" is out of range for type %s",
						(int) (*end - p), p, typname)));
	embed_check_element(v, typname);
	return v;
}

float *
embed_parse_float_list(const char *str, const char *typname, int maxdim, int *dim)
{
	const char *p = str;
	/* n elements need at least 2n-1 chars: bound the buffer by the input */
	int			cap = Min((int) (strlen(str) / 2 + 1), maxdim + 1);
	float	   *out = palloc(sizeof(float) * cap);
	int			n = 0;

	while (is_space(*p))
		p++;
	if (*p != '[')
		embed_syntax_error(str, typname);
	p++;
	while (is_space(*p))
		p++;

	if (*p == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", typname)));

	for (;;)
	{
		char	   *end;
		float		v;

		if (n == maxdim)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s cannot have more than %d dimensions", typname, maxdim)));

		while (is_space(*p))
			p++;
		/* strtof would skip whitespace and accept an empty token otherwise */
		if (*p == '\0' || *p == ',' || *p == ']')
			embed_syntax_error(str, typname);

		v = embed_parse_float(p, &end, str, typname);
		out[n++] = v;

		p = end;
		while (is_space(*p))
			p++;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == ']')
		{
			p++;
			break;
		}
		embed_syntax_error(str, typname);
	}

	while (is_space(*p))
		p++;
	if (*p != '\0')
		embed_syntax_error(str, typname);

	*dim = n;
	return out;
}

char *
embed_format_float_list(const float *x, int n)
{
	/* each element plus its separator, the brackets and the terminator */
	char	   *buf = palloc((size_t) n * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 3);
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	return buf;
}
