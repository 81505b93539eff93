# The README's classification and recommendation recipes (section
# "Classification and recommendation"), measured on the 678 SAP Fiori
# documentation chunks of test/data.  Their label is the documentation set a
# chunk comes from (the id's prefix: local-sapui5, local-btp-fiori-tools, ...;
# 11 sets, the largest holding 44.8% of the chunks).
#
# - kNN vote: each chunk, left out, is labelled by the majority of its k
#   nearest chunks (ties to the nearest), found through an hnsw index.
#   Accuracy 0.855 (k = 1), 0.863 (k = 5), 0.833 (k = 10), the same as with
#   an exact scan, against 0.448 for always answering the largest set.
# - "More like what this user liked": a user's profile is avg() of the
#   embeddings of the items they liked; recommendations are the nearest
#   other items.  Each set with 20 or more chunks plays a user who liked 5
#   of its chunks (a fixed pick: the first 5 by md5(id)); a recommendation
#   is a hit if it comes from the same set.  Hits in the top 10, per set, are
#   recorded below (46 of 60; the sets' shares of the table are 4% to 45%).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = start_node('recipes');
my $db = 'postgres';
load_sap($node, $db, 'doc_chunks', 'doc_queries');
$node->safe_psql($db, q{
	ALTER TABLE doc_chunks ADD COLUMN source text
		GENERATED ALWAYS AS (regexp_replace(id, '-[0-9]+-chunk-[0-9]+$', '')) STORED;
	CREATE INDEX doc_chunks_v ON doc_chunks USING hnsw (v vector_cosine_ops);
	ANALYZE doc_chunks;
});

is($node->safe_psql($db, q{
	SELECT count(DISTINCT source), round(max(n)::numeric / sum(n), 3)
	FROM (SELECT source, count(*) AS n FROM doc_chunks GROUP BY source) s}),
	'11|0.448', '11 documentation sets; the largest holds 44.8% of the chunks');

# the README's kNN vote, for k = 1, 5, 10
my $knn = q{
	SELECT string_agg(k || ':' || acc, ' ' ORDER BY k) FROM (
		SELECT k, round(avg((c.source = vote.label)::int), 3) AS acc
		FROM unnest(ARRAY[1, 5, 10]) k, doc_chunks c
		CROSS JOIN LATERAL (
			SELECT source AS label
			FROM (SELECT n.source, n.v <=> c.v AS d
			      FROM doc_chunks n WHERE n.id <> c.id
			      ORDER BY d LIMIT k) nn
			GROUP BY source
			ORDER BY count(*) DESC, min(d)
			LIMIT 1) vote
		GROUP BY k) s};
like($node->safe_psql($db, qq{EXPLAIN (COSTS OFF) $knn}), qr/Index Scan using doc_chunks_v/,
	'the neighbours come from the hnsw index');
is($node->safe_psql($db, $knn), '1:0.855 5:0.863 10:0.833', 'kNN vote accuracy through the index');
is($node->safe_psql($db, "SET enable_indexscan = off; $knn"), '1:0.855 5:0.863 10:0.833',
	'the same with an exact scan');

# the README's recommendation: avg() of the liked items, nearest others
my $rec = $node->safe_psql($db, q{
	WITH users AS (
		SELECT source, array_agg(id) AS liked
		FROM (SELECT source, id, row_number() OVER (PARTITION BY source ORDER BY md5(id) COLLATE "C") AS r
		      FROM doc_chunks) s
		WHERE r <= 5
		GROUP BY source
		HAVING (SELECT count(*) FROM doc_chunks d WHERE d.source = s.source) >= 20
	)
	SELECT u.source, rec.hits
	FROM users u
	CROSS JOIN LATERAL (
		SELECT count(*) FILTER (WHERE r.source = u.source) AS hits
		FROM (SELECT source FROM doc_chunks
		      WHERE id <> ALL (u.liked)
		      ORDER BY v <=> (SELECT avg(v) FROM doc_chunks WHERE id = ANY (u.liked))
		      LIMIT 10) r) rec
	ORDER BY u.source COLLATE "C"});
note "set | hits in the top 10:\n$rec";
is($rec, join("\n",
		'local-btp-fiori-tools|9',
		'local-create-README|7',
		'local-fiori-samples|5',
		'local-fiori_development_portal|6',
		'local-sap_fe_test_api|10',
		'local-sapui5|9'),
	'recommendations from avg() of 5 liked chunks: 46 of 60 from the same set');

done_testing();
