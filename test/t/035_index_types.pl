# Every index opclass of the 0.2.0 types (halfvec, sparsevec, bit) on real
# data, as 020, 021 and 022 do for `vector`, in one file that loops over a
# table of (type, access method, opclasses): recall@10 against an exact scan
# after the build and after churn (DELETE a third, VACUUM, INSERT), with
# embed_index_check clean; a streaming standby answering exactly like the
# primary; and crash recovery (immediate stop after committed inserts, the
# churn replayed with wal_consistency_checking) keeping every committed row.
#
# The values come from the 100-d word vectors of test/data (ids 1..1,250 go
# into the tables, 50 words with id > 9,000 are the queries):
# - halfvec: v::halfvec(100);
# - sparsevec: each word vector's 16 entries of largest magnitude, the other
#   84 zero (a sparse vector with the support varying from row to row);
# - bit: binary_quantize(v)::bit(100), in a bit(100) column and as the
#   expression index ((binary_quantize(v)::bit(100)) bit_hamming_ops) on a
#   vector column.
# Combinations embed (like pgvector) has no opclass for are asserted to fail
# with PostgreSQL's "operator class ... does not exist for access method".
#
# Recall floors are fixed numbers set below what was measured (50 query
# words, ids 9,020..10,000 step 20), after the build (1,000 rows) /
# after the churn (917 rows), with index_am's settings: hnsw m 16,
# ef_construction 64, ef_search 40; ivf lists 10 searched with probes 5 (half
# the lists; with 3 probes inner product fell to 0.68, and `vector` columns
# of the same words measure the same 0.676 there: not a halfvec effect):
#   halfvec hnsw       l2 0.986/0.986  ip 0.998/0.998  cosine 0.994/0.992  l1 0.984/0.972
#   halfvec ivfflat    l2 0.988/0.984  ip 0.902/0.870  cosine 0.958/0.944
#   halfvec ivfrabitq  l2 0.986/0.984  ip 0.900/0.870  cosine 0.958/0.944
#   sparsevec hnsw     l2 0.978/0.978  ip 0.990/0.994  cosine 0.992/0.984  l1 0.994/0.990
#   bit hnsw           hamming 0.998/0.994  jaccard 0.992/0.990
#   bit ivfflat        hamming 0.972/0.954
#   bit expression     hamming 1.000/0.992 (hnsw)
# Ties with the 10th distance count as hits (Hamming distances are integers).
# After the crash every replayed row (83 sampled per index, inner product
# excepted) found itself through every index.  Between runs the hnsw
# numbers moved by up to 0.002 (ivf's not at all).  The file ran in 99 s on a
# 2-core machine with a load average of 9-10 (jit off: with JIT, compiling
# the 1e10-cost plans of enable_seqscan = off took longer than all the rest).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $db = 'postgres';

# A primary whose work is replayed twice: by a streaming standby, and by
# itself after an immediate stop (only our own CHECKPOINT in between).
my $primary = PostgreSQL::Test::Cluster->new('types_primary');
$primary->init(allows_streaming => 1);
# jit off: enable_seqscan = off makes every plan cost 1e10, and compiling
# each query then took more CPU than all the rest of this file.
$primary->append_conf('postgresql.conf', "checkpoint_timeout = '1h'\nmax_wal_size = '4GB'\njit = off");
$primary->start;
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('types_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->safe_psql($db, 'CREATE EXTENSION embed');
load_words($primary, $db, 'words');

my %opsym = (l2 => '<->', ip => '<#>', cosine => '<=>', l1 => '<+>', hamming => '<~>', jaccard => '<%>');

# How a word vector v becomes each type; src_<type> holds the converted rows.
my %type = (
	halfvec => { coldef => 'halfvec(100)', conv => 'v::halfvec(100)' },
	sparsevec => { coldef => 'sparsevec(100)', conv => 'top16(v)' },
	bit => { coldef => 'bit(100)', conv => 'binary_quantize(v)::bit(100)' });
$primary->safe_psql($db, q{
	CREATE FUNCTION top16(v vector) RETURNS sparsevec LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	  SELECT array_agg(CASE WHEN r <= 16 THEN x ELSE 0 END ORDER BY j)::sparsevec(100)
	  FROM (SELECT x, j, row_number() OVER (ORDER BY abs(x) DESC, j) AS r
	        FROM unnest(v::real[]) WITH ORDINALITY u(x, j)) s
	$$;
});
for my $t (sort keys %type)
{
	$primary->safe_psql($db, qq{
		CREATE TABLE src_$t AS SELECT id, $type{$t}{conv} AS v FROM words
		WHERE id <= 1250 OR (id > 9000 AND id % 20 = 0);
	});
}
is($primary->safe_psql($db, q{SELECT count(*) FROM src_sparsevec WHERE v::text !~ '^\{(\d+:[^,]+,){15}\d+:[^,]+\}/100$'}),
	'0', 'sparsevec rows hold 16 non-zeros of 100 dimensions');

# One table per (type, access method) with an index per opclass; floors per
# opclass.  e_hnsw keeps the vectors and indexes their binary quantization.
my @cases = (
	{ table => 'h_hnsw', type => 'halfvec', am => 'hnsw',
	  floor => { l2 => 0.90, ip => 0.93, cosine => 0.95, l1 => 0.90 } },
	{ table => 'h_ivfflat', type => 'halfvec', am => 'ivfflat',
	  floor => { l2 => 0.93, ip => 0.80, cosine => 0.90 } },
	{ table => 'h_ivfrabitq', type => 'halfvec', am => 'ivfrabitq',
	  floor => { l2 => 0.93, ip => 0.80, cosine => 0.90 } },
	{ table => 's_hnsw', type => 'sparsevec', am => 'hnsw',
	  floor => { l2 => 0.90, ip => 0.93, cosine => 0.93, l1 => 0.90 } },
	{ table => 'b_hnsw', type => 'bit', am => 'hnsw',
	  floor => { hamming => 0.95, jaccard => 0.95 } },
	{ table => 'b_ivfflat', type => 'bit', am => 'ivfflat',
	  floor => { hamming => 0.90 } },
	{ table => 'e_hnsw', type => 'bit', am => 'hnsw', coldef => 'vector(100)', src => 'words',
	  expr => 'binary_quantize(t.v)::bit(100)', floor => { hamming => 0.95 } });
for my $c (@cases)
{
	$c->{a} = index_am($c->{am}, lists => 10);
	$c->{coldef} //= $type{ $c->{type} }{coldef};
	$c->{src} //= "src_$c->{type}";
	$c->{key} = $c->{expr} // 't.v';
	$c->{queries} = "SELECT id AS qid, v AS qv FROM src_$c->{type} WHERE id > 9000";
	$c->{ops} = [ sort keys %{ $c->{floor} } ];
}
sub idx { my ($c, $op) = @_; return "$c->{table}_$op" }

##### Refused: no such opclass in embed (nor in pgvector)

for my $r ([ 'sparsevec', 'ivfflat', 'l2' ], [ 'sparsevec', 'ivfrabitq', 'cosine' ],
	[ 'bit', 'ivfrabitq', 'hamming' ], [ 'bit', 'ivfflat', 'jaccard' ],
	[ 'halfvec', 'ivfflat', 'l1' ], [ 'halfvec', 'ivfrabitq', 'l1' ])
{
	my ($t, $am, $op) = @$r;
	my ($rc, $out, $err) = $primary->psql($db, qq{
		\\set VERBOSITY verbose
		CREATE TEMP TABLE refused (v $type{$t}{coldef});
		CREATE INDEX ON refused USING $am (v ${t}_${op}_ops);});
	like($err, qr/ERROR:  42704: operator class "${t}_${op}_ops" does not exist for access method "$am"/,
		"$t $am ${t}_${op}_ops: refused (42704)");
}

##### Build: 2,000 rows, then an index per opclass

for my $c (@cases)
{
	my $col = $c->{expr} ? '(binary_quantize(v)::bit(100))' : 'v';
	$primary->safe_psql($db, join "\n",
		"CREATE TABLE $c->{table} (id int PRIMARY KEY, v $c->{coldef});",
		"INSERT INTO $c->{table} SELECT id, v FROM $c->{src} WHERE id <= 1000;",
		(map { "CREATE INDEX " . idx($c, $_) . " ON $c->{table} USING $c->{am} ($col $c->{type}_${_}_ops) $c->{a}{with};" }
		  @{ $c->{ops} }),
		"ANALYZE $c->{table};");
}
$primary->safe_psql($db, 'CHECKPOINT');

# recall@10 of every opclass; $what names the phase; $plan: also check that
# the index pass scans the index
sub recall_all
{
	my ($what, $plan) = @_;
	for my $c (@cases)
	{
		for my $op (@{ $c->{ops} })
		{
			knn_ok($primary, $db, "$c->{table} $c->{type}_${op}_ops $what", $c->{floor}{$op},
				table => $c->{table}, op => $opsym{$op}, expr => $c->{key}, queries => $c->{queries},
				set => $c->{a}{ $c->{a}{ivf} ? 'wide' : 'search' }, unordered => $c->{a}{unordered}, min_queries => 50,
				($plan ? (index => idx($c, $op)) : ()));
		}
	}
}

my @all = map { my $c = $_; map { [ $c, $_, idx($c, $_) ] } @{ $c->{ops} } } @cases;

# embed_index_check on every index (one query; corruption is an ERROR,
# which fails safe_psql): heap_rows, the rows found both in the heap and in
# the index, must be the table's rows
sub check_all
{
	my ($node, $what) = @_;
	my $list = join ', ', map { "'$_->[2]'" } @all;
	my %got = split /[|\n]/, $node->safe_psql($db, qq{
		SELECT i::text, c.heap_rows FROM unnest(ARRAY[$list]::regclass[]) i, LATERAL embed_index_check(i) c});
	my %live = split /[|\n]/, $node->safe_psql($db, join ' UNION ALL ',
		map { "SELECT '$_->{table}', count(*) FROM $_->{table}" } @cases);
	for (@all)
	{
		my ($c, $op, $idx) = @$_;
		is($got{$idx}, $live{ $c->{table} }, $node->name . ": embed_index_check finds $idx clean, every row indexed, $what");
	}
}

# The neighbours (ids and distances) of 10 queries through each index, as
# one text per index: answers($node) returns index name => text.
my $answers = join ' UNION ALL ', map {
	my ($c, $op, $idx) = @$_;
	my $knn = "SELECT t.id, $c->{key} $opsym{$op} q.qv AS d FROM $c->{table} t ORDER BY $c->{key} $opsym{$op} q.qv LIMIT 10";
	qq{(SELECT '$idx', string_agg(q.qid || ':' || n.ids, ' ' ORDER BY q.qid)
		FROM ($c->{queries} AND id % 100 = 0) q
		CROSS JOIN LATERAL (SELECT string_agg(x.id || '\@' || round(x.d::numeric, 6), ',') AS ids FROM ($knn) x) n)}
} @all;
my $search = join ' ', map { $_->{a}{search} } @cases;
sub answers
{
	my ($node) = @_;
	return split /[|\n]/, $node->safe_psql($db, "SET enable_seqscan = off; SET enable_bitmapscan = off; $search $answers");
}

recall_all('built', 1);

##### Churn: DELETE a third, VACUUM, INSERT; replayed with page checks

for my $c (@cases)
{
	$primary->safe_psql($db, qq{
		SET wal_consistency_checking = 'generic';
		DELETE FROM $c->{table} WHERE id % 3 = 0;
		VACUUM (INDEX_CLEANUP ON) $c->{table};
	});
	# VACUUM counted every heap TID the indexes held: the live rows
	my %n = split /[|\n]/, $primary->safe_psql($db,
		"SELECT relname, reltuples::int FROM pg_class WHERE relname LIKE '$c->{table}\\_%' AND relkind = 'i'");
	for my $op (@{ $c->{ops} })
	{
		is($n{ idx($c, $op) }, 667, idx($c, $op) . ': after VACUUM the index holds exactly the 667 live rows');
	}
	$primary->safe_psql($db, qq{
		SET wal_consistency_checking = 'generic';
		INSERT INTO $c->{table} SELECT id, v FROM $c->{src} WHERE id > 1000 AND id <= 1200;
		ANALYZE $c->{table};
	});
}
recall_all('after churn');
check_all($primary, 'after churn');

# Committed inserts the crash below must not lose (single-row commits).
for my $c (@cases)
{
	$primary->safe_psql($db, join "\n",
		map { "INSERT INTO $c->{table} SELECT id, v FROM $c->{src} WHERE id = $_;" } 1201 .. 1250);
}
my $rows = 667 + 200 + 50;

##### The standby replays all of it and answers as the primary

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
ok(!$standby->log_contains(qr/inconsistent page found/), 'standby replay matched every page image');
is($standby->safe_psql($db, join ' UNION ALL ', map { "SELECT count(*) FROM $_->{table}" } @cases),
	join("\n", ($rows) x @cases), "the standby has every row of every table");
{
	my $plans = $standby->safe_psql($db, "SET enable_seqscan = off; $search " . join ' ', map {
		my ($c, $op, $idx) = @$_;
		"EXPLAIN (COSTS OFF) SELECT id FROM $c->{table} t ORDER BY $c->{key} $opsym{$op} (SELECT qv FROM ($c->{queries}) q LIMIT 1) LIMIT 10;"
	} @all);
	my %p = answers($primary);
	my %s = answers($standby);
	for (@all)
	{
		my $idx = $_->[2];
		like($plans, qr/Index Scan using $idx on/, "standby: a query scans $idx");
		is(scalar(() = ($p{$idx} // '') =~ /\@/g), 100, "$idx: 10 queries of 10 rows on the primary");
		ok(defined $s{$idx} && $s{$idx} eq $p{$idx}, "$idx: the standby answers exactly as the primary")
		  or diag("primary: " . substr($p{$idx} // '', 0, 300) . "\nstandby: " . substr($s{$idx} // '', 0, 300));
	}
}
check_all($standby, 'on the standby');

##### Crash: immediate stop, replay from the CHECKPOINT after the builds

$primary->stop('immediate');
$primary->start;
like(slurp_file($primary->logfile), qr/database system was interrupted|was not properly shut down/,
	'the restart ran crash recovery');
ok(!$primary->log_contains(qr/inconsistent page found/), 'crash recovery matched every page image');
is($primary->safe_psql($db, join ' UNION ALL ',
		map { "SELECT count(*) || ' ' || count(*) FILTER (WHERE id > 1200) FROM $_->{table}" } @cases),
	join("\n", ("$rows 50") x @cases), 'every committed row of every table is back after the crash');
check_all($primary, 'after the crash');
for (@all)
{
	my ($c, $op, $idx) = @$_;
	# The replayed inserts find themselves through the index, searched wide
	# (inner product does not rank a row first for its own vector).
	next if $op eq 'ip';
	my ($found, $checked) = self_found($primary, $db, $c->{table}, $opsym{$op}, expr => $c->{key},
		where => 'id > 1000 AND id % 3 = 1', set => $c->{a}{wide});
	cmp_ok($found, '>=', 0.99 * $checked, "$idx: replayed rows find themselves after the crash ($found of $checked)");
}

for my $n ($primary, $standby)
{
	ok(!$n->log_contains(qr/PANIC|terminated by signal 11|terminated by signal 6/),
		$n->name . ': no PANIC or backend crash in the server log');
}
$standby->stop;
$primary->stop;
done_testing();
