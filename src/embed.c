/*
 * embed.c — module entry point and settings.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "kernels.h"
#include "hnsw/hnsw.h"
#include "ivf/ivf.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* embed.simd: which kernel table runs; "auto" = the best this CPU supports */
enum
{
	SIMD_AUTO,
	SIMD_PORTABLE,
	SIMD_AVX2,
	SIMD_AVX512
};

static const struct config_enum_entry simd_options[] = {
	{"auto", SIMD_AUTO, false},
	{"portable", SIMD_PORTABLE, false},
	{"avx2", SIMD_AVX2, false},
	{"avx512", SIMD_AVX512, false},
	{NULL, 0, false}
};

static int	embed_simd = SIMD_AUTO;

static const EmbedKernels *
simd_table(int value)
{
	return value == SIMD_AUTO ? embed_best_kernels()
		: embed_find_kernels(simd_options[value].name);
}

static bool
check_simd(int *newval, void **extra, GucSource source)
{
	if (simd_table(*newval) == NULL)
	{
		GUC_check_errdetail("This CPU does not support the \"%s\" kernels.",
							simd_options[*newval].name);
		return false;
	}
	return true;
}

static void
assign_simd(int newval, void *extra)
{
	embed_active_kernels = simd_table(newval);
}

void
_PG_init(void)
{
	embed_kernels_init();

	DefineCustomEnumVariable("embed.simd",
							 "Selects the SIMD kernels used for distances.",
							 "\"auto\" picks the best kernels this CPU supports.",
							 &embed_simd, SIMD_AUTO, simd_options,
							 PGC_USERSET, 0,
							 check_simd, assign_simd, NULL);

	hnsw_init_gucs();
	ivf_init_gucs();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("embed");
#else
	EmitWarningsOnPlaceholders("embed");
#endif
}

/* The kernel tables this CPU can run, portable first. */
PG_FUNCTION_INFO_V1(embed_simd_kernels);
Datum
embed_simd_kernels(PG_FUNCTION_ARGS)
{
	FuncCallContext *fctx;
	const EmbedKernels *const *list = embed_supported_kernels();

	if (SRF_IS_FIRSTCALL())
		fctx = SRF_FIRSTCALL_INIT();
	fctx = SRF_PERCALL_SETUP();
	if (list[fctx->call_cntr] != NULL)
	{
		/* SRF_RETURN_NEXT bumps call_cntr before evaluating its argument */
		Datum		name = CStringGetTextDatum(list[fctx->call_cntr]->name);

		SRF_RETURN_NEXT(fctx, name);
	}
	SRF_RETURN_DONE(fctx);
}
