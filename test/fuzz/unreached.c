/*
 * unreached.c — backend functions embed's objects reference on paths that
 * input never takes (casts, arrays, typmods): for test/fuzz/inputs.c they
 * abort, so that reaching one is a finding.  No PostgreSQL headers here:
 * their real prototypes do not matter.
 */
#include <stdio.h>
#include <stdlib.h>

#define UNREACHED(f) \
	void f(void); \
	void f(void) { fprintf(stderr, #f " reached\n"); abort(); }

UNREACHED(ArrayGetIntegerTypmods)
UNREACHED(ArrayGetNItems)
UNREACHED(DirectFunctionCall1Coll)
UNREACHED(construct_array)
UNREACHED(deconstruct_array)
UNREACHED(format_type_be)
UNREACHED(get_typlenbyvalalign)
UNREACHED(numeric_float4)
