# Hybrid retrieval (README "Hybrid retrieval"): a full-text ranking (ts_rank
# over a GIN-indexed tsvector) and a vector ranking (hnsw, ORDER BY <=>
# LIMIT) fused by reciprocal rank fusion with rrf_score(), on the 678 SAP
# Fiori documentation chunks of test/data.
#
# The data has no relevance labels, so the test builds an honest case from
# what it does have: six titles are each shared by two chunks (different
# pages of the documentation).  Each of those 12 chunks is a query: its title
# is the keyword query (what a user would type), its embedding the vector
# query, and the relevant answer is the other chunk with the same title; the
# query chunk itself is excluded from the search.  Titles are indexed by
# neither ranking (full text covers the body only).
#
# Asserted: each ranking uses its index; the fused list is the union of the
# two with the sum of their rrf_score()s; for "Draft Handling" the fusion
# ranks the relevant chunk 2nd while each ranking alone ranks it 4th; the
# ranks of all 12 pairs (including "List Report Page", where the vector
# ranking misses the answer and the fusion ranks it lower than full text
# alone does) are as recorded below, and so is their mean reciprocal rank:
# 0.570 full text, 0.771 vector, 0.796 fused.  Twelve queries are too few
# to claim more than "fusion helped here"; they are what the data allows.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = start_node('hybrid');
# UTF-8 whatever the test's locale (the chunks hold non-ASCII text, and the
# full-text parser splits words by the database encoding)
my $db = 'hybrid';
$node->safe_psql('postgres', qq{CREATE DATABASE $db ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'
	TEMPLATE template0});
$node->safe_psql($db, 'CREATE EXTENSION embed');
load_sap($node, $db, 'chunks', 'queries');

$node->safe_psql($db, q{
	SET client_min_messages = warning;  -- to_tsvector: "word is too long to be indexed"
	ALTER TABLE chunks ADD COLUMN tsv tsvector
		GENERATED ALWAYS AS (to_tsvector('english', body)) STORED;
	CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
	CREATE INDEX chunks_v ON chunks USING hnsw (v vector_cosine_ops);
	ANALYZE chunks;

	-- the README's recipe, as a function of the keyword query, the query
	-- vector and the chunk to leave out
	CREATE FUNCTION hybrid(words text, qv vector, skip text, depth int DEFAULT 20)
	RETURNS TABLE (id text, fts_rank bigint, vec_rank bigint, score float8, fused_rank bigint)
	LANGUAGE sql STABLE AS $$
	WITH fts AS (
		SELECT c.id, row_number() OVER (ORDER BY ts_rank(c.tsv, q) DESC, c.id COLLATE "C") AS rank
		FROM chunks c, plainto_tsquery('english', words) q
		WHERE c.tsv @@ q AND c.id <> skip
		ORDER BY rank
		LIMIT depth
	), vec AS (
		SELECT s.id, row_number() OVER (ORDER BY s.d, s.id COLLATE "C") AS rank
		FROM (SELECT c.id, c.v <=> qv AS d FROM chunks c
		      WHERE c.id <> skip ORDER BY d LIMIT depth) s
	)
	SELECT id, fts.rank, vec.rank,
	       coalesce(rrf_score(fts.rank), 0) + coalesce(rrf_score(vec.rank), 0),
	       row_number() OVER (ORDER BY coalesce(rrf_score(fts.rank), 0)
	                                   + coalesce(rrf_score(vec.rank), 0) DESC, id COLLATE "C")
	FROM fts FULL JOIN vec USING (id)
	$$;
});

# Each ranking goes through its index.
my $plan = $node->safe_psql($db, q{
	EXPLAIN (COSTS OFF)
	SELECT id FROM chunks
	WHERE tsv @@ plainto_tsquery('english', 'draft handling')
	ORDER BY ts_rank(tsv, plainto_tsquery('english', 'draft handling')) DESC LIMIT 20});
like($plan, qr/Bitmap Index Scan on chunks_tsv/, 'full-text ranking: GIN index');
$plan = $node->safe_psql($db, q{
	EXPLAIN (COSTS OFF)
	SELECT id FROM chunks
	ORDER BY v <=> (SELECT v FROM chunks WHERE n = 1) LIMIT 20});
like($plan, qr/Index Scan using chunks_v/, 'vector ranking: hnsw index');

my $draft = q{(SELECT v FROM chunks WHERE id = 'local-fiori_development_portal-67-chunk-0'),
	'local-fiori_development_portal-67-chunk-0'};

# The fused list: the union of both rankings, each row scored 1/(60 + rank)
# per ranking it is in.
is($node->safe_psql($db, qq{
	SELECT count(*) FILTER (WHERE fts_rank IS NULL AND vec_rank IS NULL),
	       count(*) FILTER (WHERE abs(score - (coalesce(1.0 / (60 + fts_rank), 0)
	                                          + coalesce(1.0 / (60 + vec_rank), 0))) > 1e-15),
	       count(*) FILTER (WHERE fts_rank IS NOT NULL), count(*) FILTER (WHERE vec_rank IS NOT NULL),
	       count(*)
	FROM hybrid('Draft Handling', $draft)}),
	'0|0|20|20|35', 'fusion: 20 + 20 ranked chunks, 35 distinct, scores are sums of rrf_score');

# "Draft Handling": 4th by full text, 4th by vector, 2nd fused.
my $rows = $node->safe_psql($db, qq{
	SELECT h.fused_rank, coalesce(h.fts_rank::text, '-'), coalesce(h.vec_rank::text, '-'), c.title
	FROM hybrid('Draft Handling', $draft) h JOIN chunks c USING (id)
	ORDER BY h.fused_rank LIMIT 5});
note "Draft Handling, fused top 5 (fused | full text | vector | title):\n$rows";
is($node->safe_psql($db, qq{
	SELECT fts_rank, vec_rank, fused_rank FROM hybrid('Draft Handling', $draft)
	WHERE id = 'local-fiori_development_portal-66-chunk-0'}),
	'4|4|2', 'Draft Handling: the relevant chunk is 4th by full text, 4th by vector, 2nd fused');

# All 12 pairs: rank of the relevant chunk in each list ('-': not in the top 20).
my $pairs = $node->safe_psql($db, q{
	SELECT a.id, coalesce(h.fts_rank::text, '-'), coalesce(h.vec_rank::text, '-'),
	       coalesce(h.fused_rank::text, '-')
	FROM chunks a JOIN chunks b ON a.title = b.title AND a.id <> b.id
	LEFT JOIN LATERAL (SELECT * FROM hybrid(a.title, a.v, a.id) h WHERE h.id = b.id) h ON true
	ORDER BY a.id});
note "query | full text | vector | fused:\n$pairs";
is($pairs, join("\n",
		'local-btp-fiori-tools-162-chunk-0|1|1|1',
		'local-btp-fiori-tools-163-chunk-0|1|1|1',
		'local-btp-fiori-tools-40-chunk-0|-|-|-',
		'local-fiori_development_portal-5-chunk-0|2|1|1',
		'local-fiori_development_portal-56-chunk-0|2|1|1',
		'local-fiori_development_portal-66-chunk-0|2|1|1',
		'local-fiori_development_portal-67-chunk-0|4|4|2',
		'local-fiori_development_portal-80-chunk-0|11|-|21',
		'local-sap_fe_test_api-22-chunk-0|2|1|1',
		'local-sap_fe_test_api-23-chunk-0|2|1|1',
		'local-sapui5-233-chunk-0|1|1|1',
		'local-sapui5-234-chunk-0|1|1|1'),
	'the 12 same-title pairs: ranks by full text, vector and fusion');

# Mean reciprocal rank over the 12 (0 when outside the top 20).
my $mrr = $node->safe_psql($db, q{
	SELECT round(avg(coalesce(1.0 / h.fts_rank, 0)), 3), round(avg(coalesce(1.0 / h.vec_rank, 0)), 3),
	       round(avg(coalesce(1.0 / h.fused_rank, 0)), 3)
	FROM chunks a JOIN chunks b ON a.title = b.title AND a.id <> b.id
	LEFT JOIN LATERAL (SELECT * FROM hybrid(a.title, a.v, a.id) h WHERE h.id = b.id) h ON true});
note "MRR full text | vector | fused: $mrr";
is($mrr, '0.570|0.771|0.796', 'MRR over the 12 pairs: full text 0.570, vector 0.771, fused 0.796');

done_testing();
