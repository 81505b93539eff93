# hnsw and ivfrabitq with vectors too large for an index page: 3,072 and
# 4,096 dimensions (12 and 16 kB, as from large embedding models) and the
# 16,000 maximum.  hnsw keeps their values on overflow pages; ivfrabitq
# keeps 1-bit codes (dims / 8 bytes) and reranks from the heap.  Build,
# search, insert, delete and VACUUM (which frees space for later inserts)
# must all work.  ivfflat, whose entries hold the whole vector, refuses
# them with a hint.  The vectors are real word vectors laid end to end, so
# they have real neighbourhoods.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = start_node('index_bigdim');
my $db = 'postgres';
load_words($node, $db, 'words');

# Vector number i of $dim dimensions: the word vectors i, i + $stride,
# i + 2 * $stride, ... concatenated and cut to $dim.
$node->safe_psql($db, q{
	CREATE FUNCTION concat_words(i int, dim int, stride int) RETURNS vector
	LANGUAGE sql STABLE AS $$
		SELECT (array_agg(u.x ORDER BY b, u.j))[1:dim]::vector
		FROM generate_series(0, (dim + 99) / 100 - 1) b
		JOIN words w ON w.id = (i - 1 + stride * b) % 10000 + 1
		CROSS JOIN LATERAL unnest(w.v::real[]) WITH ORDINALITY u(x, j)
	$$;
});

# Under L2 the raw concatenations have hub-and-outlier structure (their norms
# vary a lot) that leaves some rows unreachable in any HNSW graph, so the L2
# case uses them normalised (test 020 covers L2 on raw vectors).
for my $name (qw(hnsw ivfrabitq))
{
	# 300 rows: ivf lists 10.  Concatenations of unrelated word vectors have
	# little cluster structure (probes 5 of 10 find 0.8 of the neighbours),
	# so recall is measured with every list probed: what it checks is the
	# codes and the rerank at these sizes.  Rows find themselves with probes
	# 3 (a row is filed under its nearest centroid).
	my $am = index_am($name, lists => 10);
	my $recall_set = $am->{ivf} ? "SET $name.probes = 10;" : $am->{search};
	for my $case ([ 3072, '<=>', 'vector_cosine_ops', 'concat_words' ],
		[ 4096, '<->', 'vector_l2_ops', 'l2_normalize(concat_words' ])
	{
		my ($dim, $op, $opclass, $gen) = @$case;
		my $close = $gen =~ /\(/ ? ')' : '';
		my $t = "big${dim}_$name";
		my $idx = "${t}_idx";
		# hnsw: 3072 dims at full precision and 4096 at half (the default)
		# both take more than a page per value, so both read overflow pages
		my $with = $am->{with};
		$with =~ s/WITH \(/WITH (precision = full, / if $name eq 'hnsw' && $dim == 3072;
		$node->safe_psql($db, qq{
			CREATE TABLE $t (id int PRIMARY KEY, v vector($dim));
			INSERT INTO $t SELECT i, $gen(i, $dim, 347)$close FROM generate_series(1, 300) i;
			CREATE INDEX $idx ON $t USING $name (v $opclass) $with;
			-- queries: vectors not in the table
			CREATE TABLE ${t}_q AS SELECT i AS qid, $gen(i, $dim, 347)$close AS qv FROM generate_series(301, 340) i;
			ANALYZE $t;
		});
		is($node->safe_psql($db, "SELECT min(vector_dims(v)) || ' ' || max(vector_dims(v)) FROM $t"),
			"$dim $dim", "$t: $dim-dimensional values");
		my $pages = $node->safe_psql($db, "SELECT pg_relation_size('$idx') / 8192");
		if ($name eq 'hnsw')
		{
			# Each value needs at least two overflow pages.
			cmp_ok($pages, '>=', 2 * 300, "$idx: $pages pages for 300 values, so on overflow pages");
		}
		else
		{
			# Codes, not values: the centroids (10 x $dim floats) and 300
			# codes of $dim / 8 bytes, far below the values' 300 x 4 x $dim.
			my $bytes = 10 * 4 * $dim + 300 * $dim / 8;
			cmp_ok($pages, '<=', int(1.5 * $bytes / 8192) + 5,
				"$idx: $pages pages for 300 values: codes and centroids, not the values");
		}

		my ($found, $checked) = self_found($node, $db, $t, $op, index => $idx, set => $am->{search});
		is("$found/$checked", '300/300', "$t: every row is its own nearest neighbour");
		my %r = knn_check($node, $db, table => $t, op => $op, queries => "SELECT * FROM ${t}_q", index => $idx,
			set => $recall_set);
		cmp_ok($r{recall}, '>=', 0.95, "$t: recall\@10 $r{recall} >= 0.95");
		is($r{short}, 0, "$t: full answers");
		order_ok($am->{unordered}, \%r, $t);

		# Inserts, then delete 30% and VACUUM, then insert into the freed space.
		$node->safe_psql($db, "INSERT INTO $t SELECT i, $gen(i, $dim, 347)$close FROM generate_series(401, 450) i");
		$node->safe_psql($db, "DELETE FROM $t WHERE id % 10 IN (1, 4, 7)");
		$node->safe_psql($db, "VACUUM (INDEX_CLEANUP ON) $t");
		my $live = $node->safe_psql($db, "SELECT count(*) FROM $t");
		is($node->safe_psql($db, "SELECT reltuples::int FROM pg_class WHERE relname = '$idx'"),
			$live, "$idx holds exactly the $live live rows after VACUUM");
		my $before = $node->safe_psql($db, "SELECT pg_relation_size('$idx') / 8192");
		$node->safe_psql($db, "INSERT INTO $t SELECT i, $gen(i, $dim, 347)$close FROM generate_series(501, 550) i");
		my $after = $node->safe_psql($db, "SELECT pg_relation_size('$idx') / 8192");
		# 105 values deleted, 50 inserted: their space comes from the freed one.
		cmp_ok($after, '<=', $before + 10, "$idx: inserts after VACUUM reuse freed pages ($before -> $after pages)");

		($found, $checked) = self_found($node, $db, $t, $op, set => $am->{search});
		is($found, $checked, "$t after churn: every row is its own nearest neighbour ($found of $checked)");
		%r = knn_check($node, $db, table => $t, op => $op, queries => "SELECT * FROM ${t}_q", set => $recall_set);
		cmp_ok($r{recall}, '>=', 0.95, "$t after churn: recall\@10 $r{recall} >= 0.95");
		is($r{short} + $r{missing}, 0, "$t after churn: full answers of live rows");
		order_ok($am->{unordered}, \%r, "$t after churn");
	}
}

# ivfflat entries hold the whole vector: it stops at 2,030 dimensions and
# says what to use instead.
my ($ret, $out, $err) = $node->psql($db,
	'CREATE INDEX ON big3072_hnsw USING ivfflat (v vector_cosine_ops) WITH (lists = 10)',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
isnt($ret, 0, 'ivfflat refuses 3,072 dimensions');
like($err, qr/54000/, 'ivfflat, 3,072 dimensions: program_limit_exceeded');
like($err, qr/ivfrabitq/, 'ivfflat, 3,072 dimensions: the message names ivfrabitq');

##### 16,000 dimensions, the type's maximum: a handful of rows

for my $name (qw(hnsw ivfrabitq))
{
	my $t = "huge_$name";
	my $with = index_am($name, lists => 1)->{with};    # ivf: 8 rows, one list
	$node->safe_psql($db, qq{
		CREATE TABLE $t (id int PRIMARY KEY, v vector(16000));
		INSERT INTO $t SELECT i, concat_words(i, 16000, 61) FROM generate_series(1, 8) i;
		CREATE INDEX ${t}_l2 ON $t USING $name (v vector_l2_ops) $with;
		CREATE INDEX ${t}_cos ON $t USING $name (v vector_cosine_ops) $with;
		INSERT INTO $t SELECT i, concat_words(i, 16000, 61) FROM generate_series(9, 12) i;
	});
	for my $case ([ '<->', "${t}_l2" ], [ '<=>', "${t}_cos" ])
	{
		my ($op, $idx) = @$case;
		my ($found, $checked) = self_found($node, $db, $t, $op, index => $idx);
		is("$found/$checked", '12/12', "16000 dims, $idx: every row is its own nearest neighbour");
		is( $node->safe_psql($db, qq{
				SET enable_seqscan = off;
				SELECT string_agg(id::text, ',') FROM (SELECT id FROM $t ORDER BY v $op (SELECT v FROM $t WHERE id = 5)) s}),
			$node->safe_psql($db, qq{
				SET enable_indexscan = off;
				SELECT string_agg(id::text, ',') FROM (SELECT id FROM $t ORDER BY v $op (SELECT v FROM $t WHERE id = 5)) s}),
			"16000 dims, $idx: full ordering equals the exact one");
	}
	$node->safe_psql($db, "DELETE FROM $t WHERE id IN (2, 7, 11); VACUUM (INDEX_CLEANUP ON) $t;");
	is($node->safe_psql($db, "SELECT string_agg(reltuples::int::text, ' ' ORDER BY relname) FROM pg_class WHERE relname IN ('${t}_cos', '${t}_l2')"),
		'9 9', "16000 dims, $name: VACUUM left 9 rows in each index");
	$node->safe_psql($db, "INSERT INTO $t SELECT i, concat_words(i, 16000, 61) FROM generate_series(20, 22) i");
	my ($found, $checked) = self_found($node, $db, $t, '<->', index => "${t}_l2");
	is("$found/$checked", '12/12', "16000 dims, $name after delete, VACUUM, insert: every row finds itself");
}

ok(!$node->log_contains(qr/PANIC|terminated by signal/), 'no backend crash in the server log');
$node->stop;
done_testing();
