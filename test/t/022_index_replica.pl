# hnsw, ivfflat and ivfrabitq on a streaming standby: after CREATE INDEX,
# inserts, deletes and VACUUM on the primary, the standby's index is the
# same, page for page, and answers every query exactly as the primary does
# (ivfrabitq reranks from heap rows, which the standby must read alike),
# also for an hnsw index of integer-valued vectors (stored as bytes).
# The primary runs with wal_consistency_checking, so replay also checks each
# record against the page the primary wrote.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $primary = PostgreSQL::Test::Cluster->new('index_primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('index_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $db = 'postgres';
$primary->safe_psql($db, 'CREATE EXTENSION embed');
my $have_pageinspect = $primary->safe_psql($db,
	q{SELECT count(*) FROM pg_available_extensions WHERE name = 'pageinspect'});
$primary->safe_psql($db, 'CREATE EXTENSION pageinspect') if $have_pageinspect;
load_words($primary, $db, 'words');

my @ams = qw(hnsw ivfflat ivfrabitq);
# ivfflat entries hold the whole vector: at most 2,030 dimensions
my @big_ams = qw(hnsw ivfrabitq);
my %am = map { $_ => index_am($_, lists => 20) } @ams;    # r: 2,000 to 2,700 rows
my %big_am = map { $_ => index_am($_, lists => 3) } @big_ams;    # big: 60 rows

# The build is logged as whole pages; the rest as generic records, which we
# want checked on replay.
for my $name (@ams)
{
	my $with = $am{$name}{with};
	$primary->safe_psql($db, qq{
		CREATE TABLE r_$name (id int PRIMARY KEY, cat int NOT NULL, v vector(100));
		INSERT INTO r_$name SELECT id, id % 7, v FROM words WHERE id <= 2000;
		CREATE INDEX r_${name}_cos ON r_$name USING $name (v vector_cosine_ops) $with;
		CREATE INDEX r_${name}_l2 ON r_$name USING $name (v vector_l2_ops) $with;
	});
}
for my $name (@big_ams)
{
	# Large values (stored on overflow pages in hnsw).
	$primary->safe_psql($db, qq{
		CREATE TABLE big_$name (id int PRIMARY KEY, v vector(3000));
		INSERT INTO big_$name
		SELECT i, (SELECT array_agg(x ORDER BY b, j) FROM generate_series(0, 29) b,
		           LATERAL (SELECT u.x, u.j FROM words w, unnest(w.v::real[]) WITH ORDINALITY u(x, j)
		                    WHERE w.id = i + 100 * b) s)::vector
		FROM generate_series(1, 60) i;
		CREATE INDEX big_${name}_l2 ON big_$name USING $name (v vector_l2_ops) $big_am{$name}{with};
	});
}
for my $name (@ams)
{
	$primary->safe_psql($db, qq{
		SET wal_consistency_checking = 'generic';
		INSERT INTO r_$name SELECT id, id % 7, v FROM words WHERE id > 2000 AND id <= 2400;
		DELETE FROM r_$name WHERE id % 10 IN (1, 4, 7);
		VACUUM r_$name;
		INSERT INTO r_$name SELECT id, id % 7, v FROM words WHERE id > 2400 AND id <= 2700;
	});
}
for my $name (@big_ams)
{
	$primary->safe_psql($db, qq{
		SET wal_consistency_checking = 'generic';
		DELETE FROM big_$name WHERE id % 3 = 0;
		VACUUM big_$name;
		INSERT INTO big_$name SELECT id + 1000, v FROM big_$name WHERE id < 30;
	});
}
# Integer-valued vectors: hnsw stores those spanning at most 256 values as
# bytes, the others (about a tenth here) as exact halves, in one index.
my $ints = q{(SELECT array_agg(round(x * 100)) FROM unnest(v::real[]) x)::vector(100)};
$primary->safe_psql($db, qq{
	CREATE TABLE iv (id int PRIMARY KEY, v vector(100));
	INSERT INTO iv SELECT id, $ints FROM words WHERE id <= 1500;
	CREATE INDEX iv_l2 ON iv USING hnsw (v vector_l2_ops);
	SET wal_consistency_checking = 'generic';
	INSERT INTO iv SELECT id, $ints FROM words WHERE id > 1500 AND id <= 1800;
	DELETE FROM iv WHERE id % 10 IN (2, 5);
	VACUUM iv;
	INSERT INTO iv SELECT id, $ints FROM words WHERE id > 1800 AND id <= 1900;
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
ok(!$standby->log_contains(qr/inconsistent page found/), 'standby replay matched every page image');

# Both sides, forced index scans: every query's ids and distances as text.
my $answers = q{
	SET enable_seqscan = off; SET enable_bitmapscan = off; %s
	SELECT string_agg(q.id || ':' || n.ids, E'\n' ORDER BY q.id)
	FROM (SELECT id, v FROM words WHERE id > 9000 AND id %% 10 = 0) q
	CROSS JOIN LATERAL (
	  SELECT string_agg(t.id || '@' || round((t.v %s q.v)::numeric, 6), ',') AS ids
	  FROM (SELECT id, v FROM %s t %s ORDER BY v %s q.v LIMIT %d) t) n};

# [what, SET commands, operator, filter, LIMIT]
my %cases = (
	hnsw => [
		[ 'cosine', '', '<=>', '', 10 ],
		[ 'L2', '', '<->', '', 10 ],
		[ 'cosine, ef_search 100, LIMIT 40', 'SET hnsw.ef_search = 100;', '<=>', '', 40 ],
		[ 'cosine, filter, strict iterative scan', 'SET hnsw.iterative_scan = strict_order;', '<=>', 'WHERE cat = 3', 10 ],
		[ 'L2, filter, relaxed iterative scan', 'SET hnsw.iterative_scan = relaxed_order;', '<->', 'WHERE cat = 5', 10 ]
	]);
for my $name (qw(ivfflat ivfrabitq))
{
	my $a = $am{$name};
	$cases{$name} = [
		[ 'cosine', $a->{search}, '<=>', '', 10 ],
		[ 'L2', $a->{search}, '<->', '', 10 ],
		[ 'cosine, half the lists, LIMIT 40', $a->{wide}, '<=>', '', 40 ],
		[ 'cosine, filter, one list at a time, iterative scan', "SET $name.probes = 1; $a->{iterative}", '<=>', 'WHERE cat = 3', 10 ],
		[ 'L2, filter, relaxed iterative scan', "$a->{search} $a->{iterative}", '<->', 'WHERE cat = 5', 10 ]
	];
}

for my $name (@ams)
{
	my $live = $primary->safe_psql($db, "SELECT count(*) FROM r_$name");
	is($standby->safe_psql($db, "SELECT count(*) FROM r_$name"), $live, "$name: standby has the $live rows");

	for my $case (@{ $cases{$name} })
	{
		my ($what, $set, $op, $where, $limit) = @$case;
		my $sql = sprintf($answers, $set, $op, "r_$name", $where, $op, $limit);
		my $p = $primary->safe_psql($db, $sql);
		my $s = $standby->safe_psql($db, $sql);
		my @lines = split /\n/, $p;
		my $full = grep { (() = /@/g) == $limit } @lines;
		is(scalar @lines, 100, "$name $what: 100 queries answered on the primary");
		cmp_ok($full, '>=', 95, "$name $what: (nearly) all with $limit rows ($full)");
		ok($s eq $p, "$name $what: standby answers exactly as the primary")
		  or diag("primary:\n" . substr($p, 0, 500) . "\nstandby:\n" . substr($s, 0, 500));
	}
	my $plan = $standby->safe_psql($db, qq{
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM r_$name ORDER BY v <=> (SELECT v FROM words WHERE id = 1) LIMIT 5});
	like($plan, qr/Index Scan using r_${name}_cos/, "standby plans an $name scan");
}

for my $name (@big_ams)
{
	my $big_sql = qq{
		SET enable_seqscan = off; $big_am{$name}{search}
		SELECT string_agg(b.id || ':' || n.id, ',' ORDER BY b.id)
		FROM big_$name b CROSS JOIN LATERAL (SELECT id FROM big_$name t ORDER BY t.v <-> b.v LIMIT 3) n};
	my $bp = $primary->safe_psql($db, $big_sql);
	like($bp, qr/^\d+:\d+/, "$name, 3,000 dimensions: primary answers");
	is($standby->safe_psql($db, $big_sql), $bp, "$name, 3,000 dimensions: standby answers exactly as the primary");
}

{
	my $iv_sql = q{
		SET enable_seqscan = off;
		SELECT string_agg(q.id || ':' || n.ids, E'\n' ORDER BY q.id)
		FROM (SELECT id, v FROM iv WHERE id % 50 = 1) q
		CROSS JOIN LATERAL (
		  SELECT string_agg(t.id || '@' || (t.v <-> q.v), ',') AS ids
		  FROM (SELECT id, v FROM iv t ORDER BY v <-> q.v LIMIT 10) t) n};
	my $p = $primary->safe_psql($db, $iv_sql);
	my @lines = split /\n/, $p;
	is(scalar @lines, 38, 'integer vectors: every query answered on the primary');
	like($lines[0], qr/^1:\d+\@0,/, 'integer vectors: a stored row is nearest to itself, at distance 0');
	is($standby->safe_psql($db, $iv_sql), $p, 'integer vectors: standby answers exactly as the primary');
}

# Page for page.  The unused middle of a page (pd_lower..pd_upper) and the
# header's LSN/checksum are not replicated by design, so they are left out.
my @indexes = ((map { ("r_${_}_cos", "r_${_}_l2") } @ams), (map { "big_${_}_l2" } @big_ams), 'iv_l2');
SKIP:
{
	skip 'pageinspect not available', 2 * @indexes unless $have_pageinspect;
	my $pages = q{
		SELECT string_agg(md5(substr(p, 25, greatest(h.lower - 24, 0)) || substr(p, h.upper + 1)), ' ' ORDER BY blk)
		FROM generate_series(0, pg_relation_size('%s') / 8192 - 1) blk,
		     LATERAL get_raw_page('%s', blk::int) p, LATERAL page_header(p) h};
	for my $idx (@indexes)
	{
		my $sql = sprintf($pages, $idx, $idx);
		my $p = $primary->safe_psql($db, $sql);
		my $s = $standby->safe_psql($db, $sql);
		my @pp = split / /, $p;
		my @sp = split / /, $s;
		is(scalar @pp, $primary->safe_psql($db, "SELECT pg_relation_size('$idx') / 8192"),
			"$idx: one checksum per page");
		my @diff = grep { ($pp[$_] // '') ne ($sp[$_] // '') } 0 .. ($#pp > $#sp ? $#pp : $#sp);
		is(scalar @diff, 0, "$idx: standby pages equal the primary's (" . scalar(@pp) . ' pages)')
		  or diag('differing blocks: ' . join(' ', @diff[ 0 .. ($#diff < 20 ? $#diff : 20) ]));
	}
}

# The standby keeps up with more work.
for my $name (@ams)
{
	$primary->safe_psql($db, qq{
		INSERT INTO r_$name SELECT id, id % 7, v FROM words WHERE id > 2700 AND id <= 3000;
		DELETE FROM r_$name WHERE id % 10 = 2;
		VACUUM r_$name;
	});
}
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
for my $name (@ams)
{
	my $sql = sprintf($answers, $am{$name}{search}, '<=>', "r_$name", '', '<=>', 10);
	is($standby->safe_psql($db, $sql), $primary->safe_psql($db, $sql), "$name after more work: same answers");
}

# embed_index_check on both sides after the VACUUMs: read-only, so it runs on the standby too
for my $n ($primary, $standby)
{
	for my $idx ((map { ("r_${_}_cos", "r_${_}_l2") } @ams), (map { "big_${_}_l2" } @big_ams), 'iv_l2')
	{
		is($n->safe_psql($db, "SELECT heap_rows IS NOT NULL FROM embed_index_check('$idx')"), 't',
			$n->name . ": embed_index_check finds $idx clean");
	}
}

for my $n ($primary, $standby)
{
	ok(!$n->log_contains(qr/PANIC|terminated by signal/), $n->name . ': no crash in the server log');
}
$standby->stop;
$primary->stop;
done_testing();
